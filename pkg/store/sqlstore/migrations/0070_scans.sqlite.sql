-- Indexes for the scans whose answers stay small while the history grows
-- (docs/benchmarks.md "Growth with history"; TestQueryPlansUseTheirIndexes
-- fails when a planner stops using them):
--   requests_live: the live requests (pending, approved, active): the
--   approver's queue (jit requests --pending) and the idle sweep read these
--   few rows newest first, not the whole table;
--   requests_awaiting_review: the grants still waiting for their post-hoc
--   review (the review queue), newest first. awaits_review is derived from
--   the body as lifecycle.AwaitsReview decides it.
ALTER TABLE requests ADD COLUMN awaits_review INTEGER NOT NULL
	GENERATED ALWAYS AS (COALESCE(json_extract(body, '$.review_required'), 0) = 1
		AND json_extract(body, '$.review') IS NULL
		AND json_extract(body, '$.starts_at') IS NOT NULL) VIRTUAL;
CREATE INDEX requests_live ON requests (created_at DESC, id DESC) WHERE state IN ('pending', 'approved', 'active');
CREATE INDEX requests_awaiting_review ON requests (created_at DESC, id DESC) WHERE awaits_review = 1;
