// Package shared holds what more than one command runs or prints, so that a
// command never imports another command (cli/cli's pkg/cmd/pr/shared is the
// model): putting a grant to work (exec, exports, console), writing the AWS
// profiles, and the rows of a grant's activity. `jit exec`/`assume`/`console`,
// `jit configure aws` and the picker's actions run the same functions here;
// `jit show` and `jit review` print the same activity rows.
//
// TestCommandsDoNotImportCommands (package cmd) keeps it so.
package shared
