package main

import (
	"io"
	"os"
	"syscall"
)

// growPipe asks for a 1 MiB pipe buffer instead of Linux's 64 KiB, so that
// cat and the reader run side by side instead of taking turns; best effort.
func growPipe(r io.Reader) {
	const fSetPipeSize = 1031 // F_SETPIPE_SZ
	if f, ok := r.(*os.File); ok {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSize, 1<<20)
	}
}
