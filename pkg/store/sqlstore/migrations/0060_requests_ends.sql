-- The access report reads the grants that started in its window by their
-- end (store.Filter.EndsAtOrAfter): a grant never ends before it starts, so
-- ends_at >= since finds each of them however long it was pending, and this
-- index keeps that a range scan. One file: the same SQL in both dialects.
--
-- (From this version on activity_seen.seen_at is when jit received an
-- event, not the event's own time: the dedupe window runs from receipt.)
CREATE INDEX requests_ends ON requests (ends_at);
