package tui

import (
	"context"
	"errors"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/session"
)

// This file turns errors into lines a person can act on.

// errLine is an error as one line a person can act on.
func errLine(err error) string {
	msg, hint := describe(err)
	if hint == "" {
		return msg
	}
	return msg + " — try: " + hint
}

// describe splits an error into what went wrong and what to do next.
func describe(err error) (msg, hint string) {
	var (
		se *apiclient.ServerError
		ue *apiclient.UnreachableError
		ng *session.NoGrantError
	)
	switch {
	case errors.Is(err, session.ErrLoginRequired):
		return err.Error(), "jit login (then r to reload)"
	case errors.As(err, &ue):
		return "cannot reach the jit server at " + ue.URL, "check the URL and your network, then r to reload; jit doctor"
	case errors.As(err, &ng):
		return err.Error(), "request the role again"
	case errors.As(err, &se):
		hint := se.Hint()
		if hint == "" && se.Code() == api.CodeUnauthenticated {
			hint = "jit login"
		}
		return se.Body.Message, hint
	case errors.Is(err, context.Canceled):
		return "cancelled", ""
	}
	return err.Error(), "r to retry; jit doctor"
}
