package server

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// emptyRecords is an authenticated sender's worst CloudTrail delivery: a
// log file of 1 MiB of empty records, {"Records":[{},{},…]}.
func emptyRecords() []byte {
	var b bytes.Buffer
	b.WriteString(`{"Records":[{}`)
	for b.Len() < maxActivityBody-8 {
		b.WriteString(`,{}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// One 1 MiB delivery of empty records allocated about 438 MiB before the
// 1,000-event check. The decoder stops at the limit: a few MiB at most.
func TestCloudTrailDeliveryOfEmptyRecordsIsRefusedWithBoundedAllocation(t *testing.T) {
	body := emptyRecords()
	var err error
	n := allocated(func() { _, err = decodeCloudTrail(body) })
	if err == nil || !strings.Contains(err.Error(), "at most 1000") {
		t.Fatalf("err %v, want the 1,000-event limit", err)
	}
	if n > 16<<20 {
		t.Fatalf("decoding a 1 MiB delivery allocated %d MiB, want at most 16 MiB", n>>20)
	}
}

func BenchmarkCloudTrailDeliveryOf1MiBEmptyRecords(b *testing.B) {
	body := emptyRecords()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeCloudTrail(body); err == nil {
			b.Fatal("accepted")
		}
	}
}
