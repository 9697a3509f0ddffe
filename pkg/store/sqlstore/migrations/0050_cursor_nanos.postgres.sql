-- delivery_cursors.updated_at in Unix nanoseconds, as in SQLite and as
-- every other time the store keeps, so one statement writes it everywhere.
ALTER TABLE delivery_cursors ALTER COLUMN updated_at DROP DEFAULT;
ALTER TABLE delivery_cursors ALTER COLUMN updated_at TYPE BIGINT
	USING (extract(epoch FROM updated_at) * 1000000000)::bigint;
