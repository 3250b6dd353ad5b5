-- Number of devices that have sent telemetry.
SELECT COUNT(DISTINCT device_id) AS total_devices
FROM telemetry.telemetry
