package main

import (
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newCompletionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "completion SHELL",
		Short: "output a shell completion script: bash, zsh or fish",
		Long: `Output the completion script for SHELL (bash, zsh or fish), made by cobra from
the same definitions as the commands.`,
		Example: `  source <(nlfs completion bash)                      # this bash only
  nlfs completion bash > /etc/bash_completion.d/nlfs   # every bash
  nlfs completion zsh > "${fpath[1]}/_nlfs"
  nlfs completion fish > ~/.config/fish/completions/nlfs.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      wantArgs("SHELL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(stdout, true)
			case "zsh":
				return root.GenZshCompletion(stdout)
			case "fish":
				return root.GenFishCompletion(stdout, true)
			}
			return usageErrorf("completion: unknown shell %q (want bash, zsh or fish)", args[0])
		},
	}
}

// completeBackend completes --backend with the backends.
func completeBackend(cmd *cobra.Command) {
	cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions(
		[]string{"auto", "remap", "mmap", "gather"}, cobra.ShellCompDirectiveNoFileComp))
}

// completeMountFlags completes a mount's flags, and -o with the names of the
// mount options.
func completeMountFlags(cmd *cobra.Command, c *mountConfig) {
	completeBackend(cmd)
	cmd.RegisterFlagCompletionFunc("options", func(_ *cobra.Command, _ []string, typed string) ([]string, cobra.ShellCompDirective) {
		before := typed[:strings.LastIndexByte(typed, ',')+1] // the options already written
		var opts []string
		c.flags.VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "options" {
				return
			}
			name := strings.ReplaceAll(f.Name, "-", "_")
			if f.NoOptDefVal == "" {
				name += "="
			}
			opts = append(opts, before+name)
		})
		return opts, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	})
}
