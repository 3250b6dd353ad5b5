-- One row per reading. cpu_usage and memory_usage are columns (the analytics aggregate them);
-- `data` keeps the whole JSON document as it was sent.
CREATE TABLE IF NOT EXISTS telemetry.telemetry (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    device_id    VARCHAR(64)     NOT NULL,
    entry_ts     DATETIME(3)     NOT NULL,
    cpu_usage    DOUBLE          NOT NULL,
    memory_usage DOUBLE          NOT NULL,
    data         JSON            NOT NULL,
    received_at  TIMESTAMP(3)    NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY by_time (entry_ts),
    KEY by_device_time (device_id, entry_ts)
) ENGINE = InnoDB;
