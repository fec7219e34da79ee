"""Storage over moto: S3 and CloudWatch Logs persisted in the data dir, the disk-full errors of
every store, and moto's reset."""
