-- Indexes for the scans whose answers stay small while the history grows
-- (docs/benchmarks.md "Growth with history"; TestQueryPlansUseTheirIndexes
-- fails when a planner stops using them):
--   requests_live: the live requests (pending, approved, active): the
--   approver's queue (jit requests --pending) and the idle sweep read these
--   few rows newest first, not the whole table;
--   requests_awaiting_review: the grants still waiting for their post-hoc
--   review (the review queue), newest first. awaits_review is written with
--   every row (api.Request.AwaitsReview). Rows stored before it are filled
--   in from their JSON text, which the store writes compactly: json ->>
--   refuses bodies holding the escape \u0000, which requests may contain.
--   A grant awaits its review once it started (ends_at is set then), while
--   it needs one and has none.
ALTER TABLE requests ADD COLUMN awaits_review INTEGER NOT NULL DEFAULT 0; -- 0 or 1, as in SQLite
UPDATE requests SET awaits_review = 1
	WHERE ends_at > 0 AND body::text LIKE '%"review_required":true%' AND body::text NOT LIKE '%"review":{%';
CREATE INDEX requests_live ON requests (created_at DESC, id DESC) WHERE state IN ('pending', 'approved', 'active');
CREATE INDEX requests_awaiting_review ON requests (created_at DESC, id DESC) WHERE awaits_review = 1;
