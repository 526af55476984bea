//go:build !purego

#include "textflag.h"

// func crc64FoldCLMUL(crc uint64, p []byte, k *[4]uint64) (lo, hi uint64)
//
// Folds p (len a multiple of 64, at least 128) into one 128-bit block whose
// CRC-64 (from 0) is that of p continued from crc: four 128-bit lanes fold
// forward by 512 bits per 64 bytes (k[0], k[1]), then into one another by
// 128 bits (k[2], k[3]). See crc64_amd64.go.
TEXT ·crc64FoldCLMUL(SB), NOSPLIT, $0-56
	MOVQ crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k+32(FP), DX

	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVQ  AX, X4
	PXOR  X4, X0
	MOVOU 0(DX), X5  // fold by 512 bits
	MOVOU 16(DX), X6 // fold by 128 bits
	ADDQ  $64, SI
	SUBQ  $64, CX

loop:
	MOVO      X0, X4
	PCLMULQDQ $0x00, X5, X0
	PCLMULQDQ $0x11, X5, X4
	PXOR      X4, X0
	MOVOU     0(SI), X7
	PXOR      X7, X0

	MOVO      X1, X4
	PCLMULQDQ $0x00, X5, X1
	PCLMULQDQ $0x11, X5, X4
	PXOR      X4, X1
	MOVOU     16(SI), X7
	PXOR      X7, X1

	MOVO      X2, X4
	PCLMULQDQ $0x00, X5, X2
	PCLMULQDQ $0x11, X5, X4
	PXOR      X4, X2
	MOVOU     32(SI), X7
	PXOR      X7, X2

	MOVO      X3, X4
	PCLMULQDQ $0x00, X5, X3
	PCLMULQDQ $0x11, X5, X4
	PXOR      X4, X3
	MOVOU     48(SI), X7
	PXOR      X7, X3

	ADDQ $64, SI
	SUBQ $64, CX
	JNZ  loop

	// X1 ^= fold(X0); X2 ^= fold(X1); X3 ^= fold(X2)
	MOVO      X0, X4
	PCLMULQDQ $0x00, X6, X0
	PCLMULQDQ $0x11, X6, X4
	PXOR      X4, X0
	PXOR      X0, X1

	MOVO      X1, X4
	PCLMULQDQ $0x00, X6, X1
	PCLMULQDQ $0x11, X6, X4
	PXOR      X4, X1
	PXOR      X1, X2

	MOVO      X2, X4
	PCLMULQDQ $0x00, X6, X2
	PCLMULQDQ $0x11, X6, X4
	PXOR      X4, X2
	PXOR      X2, X3

	MOVQ   X3, AX
	PSRLDQ $8, X3
	MOVQ   X3, BX
	MOVQ   AX, lo+40(FP)
	MOVQ   BX, hi+48(FP)
	RET
