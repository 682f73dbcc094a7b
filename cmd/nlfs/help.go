package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// Help in the manner of GNU tools: "Usage:" and the synopses, what the
// command does, its commands, its options as -f, --foreground, examples,
// and where to look next. The man page (manpage.go) is made from the same
// parts.

// synopses are a command's usage lines: its Use, then the other forms
// written in its "or" annotation, one a line.
func synopses(cmd *cobra.Command) []string {
	prefix := ""
	if cmd.HasParent() {
		prefix = cmd.Parent().CommandPath() + " "
	}
	lines := []string{prefix + cmd.Use}
	if or := cmd.Annotations["or"]; or != "" {
		lines = append(lines, strings.Split(or, "\n")...)
	}
	return lines
}

// description is the command's Long text, or its Short one as a sentence.
func description(cmd *cobra.Command) string {
	if cmd.Long != "" {
		return cmd.Long
	}
	r, n := utf8.DecodeRuneInString(cmd.Short)
	return string(unicode.ToUpper(r)) + cmd.Short[n:] + "."
}

// subcommands are the commands listed in help, in the order added.
func subcommands(cmd *cobra.Command) []*cobra.Command {
	var subs []*cobra.Command
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" && !c.Hidden {
			subs = append(subs, c)
		}
	}
	return subs
}

func helpText(cmd *cobra.Command) string {
	var b strings.Builder
	for i, s := range synopses(cmd) {
		if i == 0 {
			fmt.Fprintf(&b, "Usage: %s\n", s)
		} else {
			fmt.Fprintf(&b, "  or:  %s\n", s)
		}
	}
	fmt.Fprintf(&b, "%s\n", description(cmd))
	if subs := subcommands(cmd); len(subs) > 0 {
		b.WriteString("\nCommands:\n")
		for _, c := range subs {
			fmt.Fprintf(&b, "  %-11s %s\n", c.Name(), c.Short)
		}
	}
	if f := cmd.LocalFlags(); f.HasAvailableFlags() {
		fmt.Fprintf(&b, "\nOptions:\n%s", f.FlagUsagesWrapped(80))
	}
	if cmd.Example != "" {
		fmt.Fprintf(&b, "\nExamples:\n%s\n", cmd.Example)
	}
	if len(subcommands(cmd)) > 0 {
		fmt.Fprintf(&b, "\nRun '%s COMMAND --help' for the options of a command.\n", cmd.CommandPath())
	}
	return b.String()
}
