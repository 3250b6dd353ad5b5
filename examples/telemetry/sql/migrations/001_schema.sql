-- The telemetry schema (a MySQL database). The seed lesson created `lab1` by hand.
CREATE DATABASE IF NOT EXISTS telemetry CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
