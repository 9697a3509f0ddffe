package main

import (
	"testing"

	"github.com/jit-access/jit/internal/testenv"
)

// TestMain removes the jit binary that testenv.JitBinary builds once.
func TestMain(m *testing.M) { testenv.Main(m) }
