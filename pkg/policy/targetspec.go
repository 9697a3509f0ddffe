package policy

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/jit-access/jit/pkg/api"
)

// Recorded is the role's target as a grant records it when it starts
// (api.Request.Target).
func (r *Role) Recorded() *api.GrantTarget {
	s := r.TargetSpec
	s.Kind = r.TargetKind()
	b, err := json.Marshal(s)
	if err != nil {
		// A TargetSpec holds strings, durations and pointers to structs
		// of strings: it always marshals.
		panic(fmt.Sprintf("policy: marshal target spec: %v", err))
	}
	return &api.GrantTarget{Kind: s.Kind, Spec: b}
}

// Moved reports whether a grant that recorded t would act elsewhere if it
// followed r as the policy says it is now (nil: the policy dropped it).
// A grant that recorded nothing moves with its role, so it never has.
func Moved(t *api.GrantTarget, r *Role) bool {
	if t == nil {
		return false
	}
	if r == nil {
		return true
	}
	now := r.Recorded()
	return now.Kind != t.Kind || !bytes.Equal(now.Spec, t.Spec)
}

// StartedRole is the role a grant acts on at its target: current (the
// role as the policy says it is now, nil when the policy dropped it) with
// the target settings the grant recorded when it started. A grant that
// recorded none (stored before grants recorded their target) acts on
// current, and has nothing to act on when current is nil.
func StartedRole(current *Role, name string, t *api.GrantTarget) (*Role, error) {
	if t == nil {
		if current == nil {
			return nil, &ConflictError{Reason: "role " + name + " is no longer in the policy and the grant recorded no target",
				Hint: "end its access at the target by hand, or put the role back in the policy until the grant ends"}
		}
		return current, nil
	}
	var spec TargetSpec
	dec := json.NewDecoder(bytes.NewReader(t.Spec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("grant's recorded target of role %s: %w", name, err)
	}
	if spec.Kind == "" {
		spec.Kind = t.Kind
	}
	r := &Role{Name: name}
	if current != nil {
		cp := *current
		r = &cp
	}
	r.TargetSpec = spec
	return r, nil
}
