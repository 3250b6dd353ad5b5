-- Readings, average and maximum CPU usage in the window [:start, :end) (UTC).
SELECT COUNT(*) AS data_points,
       ROUND(AVG(cpu_usage), 2) AS avg_cpu,
       ROUND(MAX(cpu_usage), 2) AS max_cpu
FROM telemetry.telemetry
WHERE entry_ts >= :start AND entry_ts < :end
