-- Bodies are stored as json, not jsonb: jsonb refuses the escape \u0000, so a
-- reason, comment or ticket holding a NUL character would make the write fail
-- (SQLSTATE 22P05), while the SQLite store and the API accept it. The store
-- never queries inside a body, so jsonb's indexing buys nothing here.
ALTER TABLE requests ALTER COLUMN body TYPE json USING body::json;
ALTER TABLE audit ALTER COLUMN body TYPE json USING body::json;
