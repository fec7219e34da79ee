"""Storage over moto: S3 and CloudWatch Logs persisted in the data dir, and the disk-full errors
of every store. `moto_internals` is the one module that touches moto."""
