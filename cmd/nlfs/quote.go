package main

import "github.com/nlfs/nlfs/internal/shellquote"

// quote returns s as one shell word, so that a path in a message can be pasted into a shell
// (shellquote.Quote).
var quote = shellquote.Quote
