package vend

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestSessionTagsAddTheInputsTagsButNeverReplaceJitsOwn(t *testing.T) {
	tags := sessionTags(Input{RequestID: "req_1", User: "repo:octo/app:ref:refs/heads/main", Tags: map[string]string{
		"jit-run-id": "4242", "jit-repository": "octo/app", TagRequestID: "req_forged", TagUser: "alice", "jit-empty": "",
	}})
	var got []string
	for _, tg := range tags {
		got = append(got, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	want := []string{"jit-request-id=req_1", "jit-user=repo:octo/app:ref:refs/heads/main", "jit-repository=octo/app", "jit-run-id=4242"}
	if len(got) != len(want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tags %v, want %v", got, want)
		}
	}
}
