-- The devices that sent the most readings (:limit of them), most first.
SELECT device_id, COUNT(*) AS requests
FROM telemetry.telemetry
GROUP BY device_id
ORDER BY requests DESC, device_id
LIMIT :limit
