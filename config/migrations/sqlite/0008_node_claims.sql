-- The node (process) that claimed an inflight row: `tagwire serve --workers N` runs several
-- senders on one file, and a worker that starts again releases only the rows of processes
-- that are gone (config/sqlite/liveness.py). NULL: claimed before this column existed.
ALTER TABLE outbox ADD COLUMN claimed_by INTEGER;
