package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The command tree, on cobra: every command a value, every flag GNU-style
// and defined once, help in the manner of GNU tools (help.go), errors one
// line with their exit code (exit.go).

// newRoot builds the whole command tree, writing to stdout.
func newRoot(stdout io.Writer) *cobra.Command {
	cobra.EnableCommandSorting = false // in the order added: mount first
	fc := newMountConfig()             // the form mount(8) runs: nlfs SOURCE MOUNTPOINT -o OPTIONS
	root := &cobra.Command{
		Use:   "nlfs COMMAND [ARG]...",
		Short: "mount a nonlinear view of a store file",
		Long: `Mount a nonlinear view of a store: the pages of one file, in the order a layout
says, through remap_file_pages(2). The store is an anonymous memfd (memory
backed by tmpfs) by default, or the file given with --store.

The second form is what mount(8) runs for 'mount -t fuse.nlfs SOURCE DIR -o
OPTIONS' and for fstab lines of type fuse.nlfs; SOURCE is none (an anonymous
store), OPTIONS the options of nlfs mount.`,
		Annotations: map[string]string{"or": "nlfs SOURCE MOUNTPOINT -o OPTIONS"},
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0, len(args) == 2 && fc.changed("options"):
				return nil
			}
			return usageErrorf("unknown command %q (see nlfs --help)", args[0])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				if cmd.Flags().NFlag() == 0 {
					fmt.Fprint(os.Stderr, helpText(cmd))
				}
				return usageErrorf("no command given")
			}
			if err := fc.fuseSource(args[0]); err != nil {
				return err
			}
			return fc.run(args[1], io.Discard) // mount(8) prints nothing on success
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	for _, name := range []string{"options", "foreground", "ready-fd"} {
		f := fc.flags.Lookup(name)
		f.Hidden = true // root's help is about the commands
		root.Flags().AddFlag(f)
	}
	root.AddCommand(newMountCmd(stdout), newUmountCmd(), newWebCmd(stdout), newDemoCmd(stdout), newApplyCmd(stdout),
		newLayoutCmd(stdout), newCompletionCmd(stdout), newManCmd(stdout))
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [COMMAND]...",
		Short: "display the help of a command",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageErrorf("help: no command %q (see nlfs --help)", strings.Join(args, " "))
			}
			return c.Help()
		},
	})
	root.InitDefaultHelpCmd()
	walk(root, func(c *cobra.Command) {
		c.SetOut(stdout)
		c.Flags().SortFlags = false
		var help bool
		switchVar(c.Flags(), &help, "help", "h", "display this help and exit")
		c.SetFlagErrorFunc(flagError)
		c.SetHelpFunc(func(c *cobra.Command, _ []string) { fmt.Fprint(c.OutOrStdout(), helpText(c)) })
	})
	return root
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// execute runs nlfs with args.
func execute(args []string, stdout io.Writer) error {
	root := newRoot(stdout)
	root.SetArgs(args)
	return root.Execute()
}

// flagError turns pflag's errors into one line that names the option as the
// user wrote it and where help is.
func flagError(cmd *cobra.Command, err error) error {
	hint := cmd.CommandPath() + " --help"
	var ne *pflag.NotExistError
	var vr *pflag.ValueRequiredError
	var iv *pflag.InvalidValueError
	msg := err.Error()
	switch {
	case errors.As(err, &ne) && ne.GetSpecifiedShortnames() != "":
		msg = fmt.Sprintf("unknown option -%s", ne.GetSpecifiedName())
	case errors.As(err, &ne):
		msg = fmt.Sprintf("unknown option --%s", ne.GetSpecifiedName())
	case errors.As(err, &vr):
		msg = fmt.Sprintf("option --%s needs a value", vr.GetFlag().Name)
	case errors.As(err, &iv) && iv.GetFlag().Name == "options":
		msg, hint = iv.Unwrap().Error(), "nlfs mount --help"
	case errors.As(err, &iv):
		msg = fmt.Sprintf("invalid value %q for --%s: %s", iv.GetValue(), iv.GetFlag().Name, valueError(iv.Unwrap()))
	}
	return usageErrorf("%s (see %s)", commandPrefix(cmd)+msg, hint)
}

// valueError says in words why a flag's value was refused.
func valueError(err error) string {
	var ne *strconv.NumError
	switch {
	case errors.As(err, &ne) && ne.Func == "ParseBool":
		return "want true or false"
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange):
		return "value out of range"
	case errors.As(err, &ne):
		return "not a number"
	}
	return err.Error()
}

// commandPrefix is how an error names its command: "mount: ", "layout
// check: ", nothing for nlfs itself.
func commandPrefix(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return ""
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ") + ": "
}

// wantArgs checks a command's positional arguments: exactly those named.
func wantArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageErrorf("%smissing %s (see %s --help)", commandPrefix(cmd), names[len(args)], cmd.CommandPath())
		case len(args) > len(names):
			return usageErrorf("%sunexpected argument %q (see %s --help)", commandPrefix(cmd), args[len(names)], cmd.CommandPath())
		}
		return nil
	}
}

// switchVar defines a bool flag shown as a plain switch (--debug), as GNU
// tools show theirs; pflag's own bool flags show as --debug[=true|false].
func switchVar(f *pflag.FlagSet, p *bool, name, short, usage string) {
	f.VarPF((*boolSwitch)(p), name, short, usage).NoOptDefVal = "true"
}

type boolSwitch bool

func (b *boolSwitch) String() string { return strconv.FormatBool(bool(*b)) }
func (b *boolSwitch) Type() string   { return "bool" }

func (b *boolSwitch) Set(s string) error {
	v, err := strconv.ParseBool(s)
	*b = boolSwitch(v)
	return err
}

// sizeValue is a size in bytes with an optional suffix K, M, G or T (powers of 1024), as
// tmpfs's size= takes it.
type sizeValue struct{ p *int64 }

func (v sizeValue) String() string {
	if v.p == nil || *v.p == 0 {
		return ""
	}
	return strconv.FormatInt(*v.p, 10)
}

func (sizeValue) Type() string { return "bytes" }

func (v sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

// parseSize parses BYTES[K|M|G|T].
func parseSize(s string) (int64, error) {
	shift := 0
	num := s
	if k := len(s); k > 0 {
		switch s[k-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		case 't', 'T':
			shift = 40
		}
		if shift > 0 {
			num = s[:k-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a size (a number of bytes above 0, with K, M, G or T for powers of 1024)", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q: value out of range", s)
	}
	return n << shift, nil
}

// int64Var defines an integer flag whose refusals say why (pflag's own say
// "must be an integer" of a number too large).
func int64Var(f *pflag.FlagSet, p *int64, name string, value int64, usage string) {
	*p = value
	f.Var((*number)(p), name, usage)
}

type number int64

func (n *number) String() string { return strconv.FormatInt(int64(*n), 10) }
func (n *number) Type() string   { return "int64" }

func (n *number) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	*n = number(v)
	return err
}
