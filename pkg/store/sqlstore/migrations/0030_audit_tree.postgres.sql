-- The audit log's Merkle tree as tlog's hash storage (pkg/store/tree.go):
-- one row per stored hash, written in the transaction that appends its
-- record. A log older than this table gets its tree built when the store
-- opens.
CREATE TABLE audit_tree (
	idx  BIGINT PRIMARY KEY, -- tlog.StoredHashIndex
	hash BYTEA NOT NULL      -- 32 bytes
);
