package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The man page, nlfs(1), is made from the command tree itself: the same
// synopses, descriptions, options and examples as --help, in one page
// (cobra/doc would write a page per command), rendered by go-md2man as
// cobra/doc does. docs/nlfs.1 is its output, and a test fails when that is
// stale.

// fstabLine is the fstab line the README and the man page show, and the test
// of fstab mounts mounts (with its own mountpoint for /mnt/nlfs).
const fstabLine = "none  /mnt/nlfs  fuse.nlfs  pages=16,allow_other,nofail  0  0"

func newManCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:    "man",
		Short:  "output the man page nlfs(1), in roff",
		Hidden: true,
		Args:   wantArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := stdout.Write(manPage(cmd.Root()))
			return err
		},
	}
}

// manPage renders the man page of the command tree under root.
func manPage(root *cobra.Command) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%% \"NLFS\" \"1\" \"\" \"nlfs\" \"User Commands\"\n# NAME\nnlfs - %s\n\n# SYNOPSIS\n", mdEscape(root.Short))
	var cmds []*cobra.Command
	walk(root, func(c *cobra.Command) {
		if c.IsAvailableCommand() || !c.HasParent() {
			cmds = append(cmds, c)
		}
	})
	for _, c := range cmds[1:] {
		if c.Runnable() && !c.HasAvailableSubCommands() {
			for _, s := range synopses(c) {
				fmt.Fprintf(&b, "%s  \n", mdSynopsis(s)) // two spaces: a line break
			}
		}
	}
	fmt.Fprintf(&b, "%s\n\n# DESCRIPTION\n%s\n\n# COMMANDS\n", mdSynopsis(synopses(root)[1]), mdEscape(root.Long))
	for _, c := range cmds[1:] {
		fmt.Fprintf(&b, "### %s\n", mdEscape(strings.Join(synopses(c), ", ")))
		fmt.Fprintf(&b, "%s\n\n", mdEscape(description(c)))
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			name, usage := pflag.UnquoteUsage(f)
			term := "**--" + f.Name + "**"
			if f.Shorthand != "" {
				term = "**-" + f.Shorthand + "**, " + term
			}
			if name != "" {
				term += " *" + name + "*"
			}
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "-1" {
				usage += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(&b, "%s\n: %s\n\n", mdEscape2(term), mdEscape(usage))
		})
		if c.Example != "" {
			// The comment ends the list of options, which would take in
			// the examples.
			fmt.Fprintf(&b, "<!-- -->\nExamples:\n\n```\n%s\n```\n\n", c.Example)
		}
	}
	b.WriteString("# FSTAB\nThe line\n\n```\n" + fstabLine + "\n```\n\n" + mdEscape(`in /etc/fstab mounts an anonymous store of 16 pages on /mnt/nlfs at boot, or by mount /mnt/nlfs; mount(8) runs it as nlfs none /mnt/nlfs -o OPTIONS, through mount.fuse3. nlfs must be in /usr/local/bin, /usr/bin or /bin: mount(8) runs its helpers without the caller's PATH.`) + "\n\n")
	b.WriteString("# EXIT STATUS\n")
	fmt.Fprintf(&b, "**%d**\n: success\n\n", exitOK)
	for _, e := range exitCodes {
		fmt.Fprintf(&b, "**%d**\n: %s\n\n", e.code, e.meaning)
	}
	b.WriteString("# FILES\n" + mdEscape2("*/run/nlfs/MOUNTPOINT.pid*, *$XDG_RUNTIME_DIR/nlfs/MOUNTPOINT.pid*") + "\n: " +
		mdEscape("the pid of the daemon serving MOUNTPOINT (escaped as systemd-escape --path does): root's, then a user's") + "\n\n")
	b.WriteString("# SEE ALSO\n**mount**(8), **fstab**(5), **mount.fuse3**(8), **fusermount3**(1), **remap_file_pages**(2)\n")
	return md2man.Render([]byte(b.String()))
}

// mdSynopsis writes a synopsis with the command words in bold.
func mdSynopsis(s string) string {
	words := strings.Fields(s)
	i := 0
	for i < len(words) && words[i] == strings.ToLower(words[i]) && !strings.ContainsAny(words[i], "[-.") {
		i++
	}
	return "**" + mdEscape(strings.Join(words[:i], " ")) + "** " + mdEscape(strings.Join(words[i:], " "))
}

// mdEscape makes text literal in markdown.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>#|!", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdEscape2 escapes only the underscores of markdown that is meant.
func mdEscape2(s string) string { return strings.ReplaceAll(s, "_", `\_`) }
