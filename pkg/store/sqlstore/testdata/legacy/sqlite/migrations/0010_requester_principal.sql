-- A person is (issuer, subject) (docs/security.md): the requester's principal
-- gets indexed columns for "my requests". They are generated from the body,
-- so every row, old or new, is filled in without a separate backfill; rows
-- stored before principals existed have neither and get '' (they are matched
-- by their requester name instead, see api.Request.RequestedBy).
ALTER TABLE requests ADD COLUMN requester_iss TEXT NOT NULL
	GENERATED ALWAYS AS (COALESCE(json_extract(body, '$.requester_issuer'), '')) VIRTUAL;
ALTER TABLE requests ADD COLUMN requester_sub TEXT NOT NULL
	GENERATED ALWAYS AS (COALESCE(json_extract(body, '$.requester_subject'), '')) VIRTUAL;
CREATE INDEX requests_principal ON requests (requester_sub, requester_iss, created_at DESC, id DESC);
