// Package storetest is the one behaviour suite every store.Store
// implementation passes (store/sqlite, store/postgres): call Run from the
// implementation's tests with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/store"
)

// T0 is the suite's fixed clock origin; no test reads the wall clock.
var t0 = time.Date(2026, 5, 1, 9, 0, 0, 123456789, time.UTC)

// Run runs the suite. open must return a new, empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return s
	}
	tests := []suiteTest{
		{"CreateThenGetRoundTrips", testCreateGet},
		{"RequestsRoundTripExactlyInUTC", testRoundTrip},
		{"CreateRejectsDuplicateID", testCreateDuplicate},
		{"GetUnknownIsNotFound", testGetUnknown},
		{"UpdateStoresMutationAndBumpsVersion", testUpdate},
		{"UpdateUnknownIsNotFound", testUpdateUnknown},
		{"MutationErrorWritesNothing", testMutationErrorAborts},
		{"ConcurrentAbortsAreIsolated", testConcurrentAbortsAreIsolated},
		{"ConcurrentUpdatesAreSerialised", testConcurrentUpdates},
		{"ListPagesNewestFirstAndFilters", testList},
		{"ListFilterEdges", testListFilterEdges},
		{"ListByPrincipalWithLegacyRows", testListByPrincipal},
		{"ListByEndFindsGrantsApprovedLate", testListEndsAtOrAfter},
		{"ListAwaitingReviewFindsStartedUnreviewedGrants", testListAwaitingReview},
		{"ZeroEventTimeIsStamped", testZeroEventTimeIsStamped},
		{"DueSelectsTimedOutAndEndedOnly", testDue},
		{"AuditQueriesFilterAndPage", testAuditQuery},
		{"AuditChainVerifiesAfterConcurrentWrites", testChainConcurrent},
		{"ConcurrentLifecyclesChainAndSweep", testLifecycleConcurrent},
		{"ListenHearsUpdates", testListen},
		{"TryLeadIsExclusive", testTryLead},
		{"WithLockIsExclusivePerKey", testWithLock},
		{"FirstUseIsOnceUntilExpiry", testFirstUse},
		{"PingAnswers", func(t *testing.T, s store.Store) {
			if err := s.Ping(ctx(t)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	tests = append(tests, treeTests()...)
	tests = append(tests, outboxTests()...)
	tests = append(tests, slackLinkTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, fresh(t)) })
	}
}

// suiteTest is one named check of the suite.
type suiteTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	return t.Context()
}
