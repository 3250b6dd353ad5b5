-- Per-device CPU and memory figures since :since (UTC) for the :limit devices with the most readings.
SELECT device_id,
       COUNT(*) AS data_points,
       ROUND(MIN(cpu_usage), 2) AS min_cpu,
       ROUND(AVG(cpu_usage), 2) AS avg_cpu,
       ROUND(MAX(cpu_usage), 2) AS max_cpu,
       ROUND(MIN(memory_usage), 2) AS min_memory,
       ROUND(AVG(memory_usage), 2) AS avg_memory,
       ROUND(MAX(memory_usage), 2) AS max_memory,
       MAX(entry_ts) AS latest_ts
FROM telemetry.telemetry
WHERE entry_ts > :since
GROUP BY device_id
ORDER BY data_points DESC, device_id
LIMIT :limit
