"""Storage over moto: S3 and CloudWatch Logs persisted in the data dir, and the disk-full errors
of every store. The `moto_internals` package is the one part that touches moto."""
