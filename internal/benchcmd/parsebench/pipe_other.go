//go:build !linux

package main

import "io"

// growPipe leaves the pipe as it is off Linux.
func growPipe(io.Reader) {}
