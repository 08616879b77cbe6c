// Hand-picked instruction forms: prologues/epilogues, every load/store
// addressing mode and size, ALU and aliases, moves, branches, PAC, LSE,
// barriers, system registers, hints.
	.text
	.globl	forms
forms:
	// prologue / epilogue shapes
	paciasp
	pacibsp
	bti	c
	bti	j
	bti	jc
	bti
	stp	x29, x30, [sp, #-32]!
	stp	x29, x30, [sp, #-512]!
	mov	x29, sp
	sub	sp, sp, #0x40
	sub	sp, sp, #0x1, lsl #12
	add	sp, sp, #0x40
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	str	x21, [sp, #32]
	str	x23, [sp, #-16]!
	str	x30, [sp, #-16]!
	ldr	x30, [sp], #16
	ldp	x19, x20, [sp, #16]
	ldp	x29, x30, [sp], #32
	ldp	x29, x30, [sp], #496
	add	sp, x29, #0x10
	mov	sp, x29
	autiasp
	autibsp
	ret
	retaa
	retab
	ret	x1
	xpaclri
	hint	#25
	hint	#29
	// loads and stores: sizes
	ldr	x0, [x1]
	ldr	w0, [x1]
	ldrb	w0, [x1]
	ldrh	w0, [x1]
	ldrsb	w0, [x1]
	ldrsb	x0, [x1]
	ldrsh	w0, [x1]
	ldrsh	x0, [x1]
	ldrsw	x0, [x1]
	str	x0, [x1]
	str	w0, [x1]
	strb	w0, [x1]
	strh	w0, [x1]
	str	xzr, [x1, #8]
	str	wzr, [sp, #12]
	ldr	x0, [x1, #32760]
	ldr	w0, [x1, #16380]
	ldrb	w0, [x1, #4095]
	ldrh	w0, [x1, #8190]
	// unscaled
	ldur	x0, [x1, #-8]
	ldur	w0, [x1, #1]
	ldurb	w0, [x1, #-1]
	ldurh	w0, [x1, #-2]
	ldursb	w0, [x1, #-3]
	ldursh	x0, [x1, #3]
	ldursw	x0, [x1, #-4]
	stur	x0, [x29, #-8]
	stur	w0, [x29, #-4]
	sturb	w0, [x29, #-1]
	sturh	w0, [x29, #-2]
	// pre/post index
	ldr	x0, [x1, #8]!
	ldr	x0, [x1], #8
	ldr	w0, [x1, #-4]!
	ldrb	w0, [x1], #1
	ldrh	w0, [x1, #2]!
	ldrsw	x0, [x1], #4
	str	x0, [x1, #-8]!
	str	w0, [x1], #-4
	strb	w0, [x1, #1]!
	strh	w0, [x1], #2
	// register offset
	ldr	x0, [x1, x2]
	ldr	x0, [x1, x2, lsl #3]
	ldr	w0, [x1, w2, uxtw]
	ldr	w0, [x1, w2, uxtw #2]
	ldr	x0, [x1, w2, sxtw]
	ldr	x0, [x1, w2, sxtw #3]
	ldr	x0, [x1, x2, sxtx]
	ldrb	w0, [x1, x2]
	ldrb	w0, [x1, x2, lsl #0]
	ldrb	w0, [x1, w2, uxtw]
	ldrh	w0, [x1, x2, lsl #1]
	ldrsw	x0, [x1, x2, lsl #2]
	str	x0, [x1, x2, lsl #3]
	strb	w0, [x1, w2, sxtw]
	// literal
	ldr	x0, forms
	ldr	w0, forms
	ldrsw	x0, forms
	prfm	pldl1keep, forms
	// pairs
	ldp	w0, w1, [x2]
	ldp	x0, x1, [x2, #-512]
	ldp	x0, x1, [x2, #504]
	ldp	x0, x1, [x2, #16]!
	ldp	w0, w1, [x2], #8
	ldpsw	x0, x1, [x2, #8]
	stp	w0, w1, [x2, #4]
	stp	xzr, xzr, [x0]
	stp	xzr, xzr, [x0, #16]!
	ldnp	x0, x1, [x2, #16]
	stnp	x0, x1, [x2]
	ldp	q0, q1, [x0, #32]
	stp	q0, q1, [sp, #-32]!
	ldp	d8, d9, [sp, #16]
	stp	d8, d9, [sp, #-64]!
	ldr	q0, [x0, #16]
	str	q1, [x0], #16
	ldr	d0, [x0, x1, lsl #3]
	ldr	s0, [x0, #4]
	str	h0, [x0, #2]
	ldr	b0, [x0, #1]
	ldur	q0, [x0, #-16]
	// exclusives and acquire/release
	ldxr	x0, [x1]
	ldxr	w0, [x1]
	ldxrb	w0, [x1]
	ldxrh	w0, [x1]
	ldaxr	x0, [x1]
	stxr	w2, x0, [x1]
	stlxr	w2, w0, [x1]
	stxrb	w2, w0, [x1]
	ldxp	x0, x1, [x2]
	stxp	w3, x0, x1, [x2]
	ldar	x0, [x1]
	ldarb	w0, [x1]
	ldarh	w0, [x1]
	stlr	x0, [x1]
	stlr	w0, [x1]
	stlrb	w0, [x1]
	stlrh	w0, [x1]
	ldapr	x0, [x1]
	ldapr	w0, [x1]
	ldaprb	w0, [x1]
	clrex
	// unprivileged
	ldtr	x0, [x1, #8]
	sttr	w0, [x1]
	ldtrb	w0, [x1, #-1]
	sttrh	w0, [x1, #2]
	// prefetch
	prfm	pldl1keep, [x0]
	prfm	pstl1strm, [x0, #64]
	prfm	pldl2keep, [x0, x1]
	prfum	pldl1keep, [x0, #-8]
	prfm	#0x1f, [x0]
	// LSE atomics
	ldadd	x0, x1, [x2]
	ldadd	w0, w1, [x2]
	ldadda	x0, x1, [x2]
	ldaddal	x0, x1, [x2]
	ldaddl	w0, w1, [x2]
	ldaddb	w0, w1, [x2]
	ldaddh	w0, w1, [x2]
	ldaddalh	w0, w1, [x2]
	stadd	x0, [x2]
	stadd	w0, [x2]
	staddl	x0, [x2]
	staddb	w0, [x2]
	ldclr	x0, x1, [x2]
	ldclral	x0, x1, [x2]
	stclr	x0, [x2]
	ldset	x0, x1, [x2]
	stset	w0, [x2]
	stsetl	x0, [x2]
	ldeor	x0, x1, [x2]
	steor	x0, [x2]
	ldsmax	x0, x1, [x2]
	ldumin	w0, w1, [x2]
	stumax	x0, [x2]
	swp	x0, x1, [x2]
	swpal	x0, x1, [x2]
	swpb	w0, w1, [x2]
	cas	x0, x1, [x2]
	casa	w0, w1, [x2]
	casal	x0, x1, [x2]
	casl	x0, x1, [x2]
	casb	w0, w1, [x2]
	casalh	w0, w1, [x2]
	casp	x0, x1, x2, x3, [x4]
	caspal	w0, w1, w2, w3, [x4]
	ldadd	x0, xzr, [x2]
	ldaddal	x0, xzr, [x2]
	// ALU immediate
	add	x0, x1, #0x10
	add	w0, w1, #0xfff
	add	x0, x1, #0x1, lsl #12
	add	x0, sp, #0x10
	adds	x0, x1, #0x10
	sub	x0, x1, #0x10
	subs	w0, w1, #0x10
	cmp	x0, #0x10
	cmp	w0, #0x0
	cmp	sp, #0x10
	cmn	x0, #0x1
	cmn	w0, #0x1, lsl #12
	mov	x0, sp
	mov	sp, x0
	mov	wsp, w0
	// ALU shifted / extended register
	add	x0, x1, x2
	add	x0, x1, x2, lsl #3
	add	w0, w1, w2, lsr #5
	add	x0, x1, x2, asr #63
	add	x0, sp, x1
	add	x0, x1, w2, uxtw
	add	x0, x1, w2, sxtw #2
	add	x0, sp, x1, lsl #3
	add	sp, sp, x1
	add	x0, x1, w2, uxtb
	add	w0, w1, w2, uxth #1
	sub	x0, x1, x2
	sub	x0, sp, x1
	sub	x0, x1, x2, lsl #12
	subs	x0, x1, x2
	cmp	x0, x1
	cmp	x0, x1, lsl #2
	cmp	x0, w1, uxtw
	cmp	w0, w1, sxtb
	cmn	x0, x1
	neg	x0, x1
	neg	w0, w1, lsl #2
	negs	x0, x1
	ngc	x0, x1
	ngcs	w0, w1
	adc	x0, x1, x2
	adcs	w0, w1, w2
	sbc	x0, x1, x2
	sbcs	x0, x1, x2
	// logical
	and	x0, x1, #0xff
	and	w0, w1, #0xfffffff0
	and	x0, x1, #0xffffffff00000000
	and	sp, x1, #0xff
	ands	x0, x1, #0x1
	tst	x0, #0x1
	tst	w0, #0x80000000
	orr	x0, x1, #0x1
	orr	w0, wzr, #0x1
	mov	x0, #0xff00ff00ff00ff00
	eor	x0, x1, #0x8000000000000000
	and	x0, x1, x2
	and	x0, x1, x2, lsl #4
	ands	w0, w1, w2
	tst	x0, x1
	tst	w0, w1, ror #3
	orr	x0, x1, x2
	orr	x0, x1, x2, lsr #2
	mov	x0, x1
	mov	w0, w1
	mov	x0, xzr
	orn	x0, x1, x2
	mvn	x0, x1
	mvn	w0, w1, lsl #3
	eor	x0, x1, x2
	eon	x0, x1, x2
	bic	x0, x1, x2
	bics	w0, w1, w2
	// moves
	movz	x0, #0x1234
	movz	x0, #0x1234, lsl #16
	movz	x0, #0x1234, lsl #32
	movz	w0, #0xffff, lsl #16
	movz	x0, #0x0, lsl #16
	movz	x0, #0
	movn	x0, #0
	movn	w0, #0
	movn	x0, #0x1234
	movn	x0, #0x1234, lsl #48
	movn	w0, #0xffff
	movn	w0, #0xffff, lsl #16
	movk	x0, #0x1234
	movk	x0, #0x1234, lsl #16
	movk	x0, #0xffff, lsl #48
	movk	w0, #0x1, lsl #16
	// shifts and bitfields
	lsl	x0, x1, #1
	lsl	w0, w1, #31
	lsr	x0, x1, #63
	lsr	w0, w1, #1
	asr	x0, x1, #3
	asr	w0, w1, #31
	ror	x0, x1, #8
	ror	w0, w1, #1
	lsl	x0, x1, x2
	lsr	w0, w1, w2
	asr	x0, x1, x2
	ror	x0, x1, x2
	ubfx	x0, x1, #4, #8
	ubfx	w0, w1, #0, #1
	sbfx	x0, x1, #4, #8
	ubfiz	x0, x1, #4, #8
	ubfiz	w0, w1, #3, #5
	sbfiz	x0, x1, #2, #32
	bfi	x0, x1, #8, #4
	bfxil	x0, x1, #8, #4
	bfc	x0, #8, #4
	sxtb	x0, w1
	sxtb	w0, w1
	sxth	x0, w1
	sxth	w0, w1
	sxtw	x0, w1
	uxtb	w0, w1
	uxth	w0, w1
	extr	x0, x1, x2, #16
	extr	w0, w1, w2, #3
	bfm	x0, x1, #0, #63
	ubfm	x0, x1, #0, #63
	sbfm	w0, w1, #0, #31
	// conditional
	csel	x0, x1, x2, eq
	csel	w0, w1, w2, ne
	csel	x0, x1, x2, hs
	csel	x0, x1, x2, lo
	csel	x0, x1, x2, mi
	csel	x0, x1, x2, pl
	csel	x0, x1, x2, vs
	csel	x0, x1, x2, vc
	csel	x0, x1, x2, hi
	csel	x0, x1, x2, ls
	csel	x0, x1, x2, ge
	csel	x0, x1, x2, lt
	csel	x0, x1, x2, gt
	csel	x0, x1, x2, le
	csel	x0, x1, x2, al
	csel	x0, x1, x2, nv
	csinc	x0, x1, x2, eq
	csinv	x0, x1, x2, eq
	csneg	x0, x1, x2, eq
	cset	x0, eq
	cset	w0, hi
	csetm	x0, ne
	cinc	x0, x1, lt
	cinv	w0, w1, ge
	cneg	x0, x1, mi
	csinc	x0, x1, x1, al
	ccmp	x0, x1, #0x4, ne
	ccmp	w0, #0x1f, #0x0, eq
	ccmn	x0, #0x1, #0x2, hs
	ccmn	w0, w1, #0xf, lo
	// multiply / divide
	mul	x0, x1, x2
	mul	w0, w1, w2
	madd	x0, x1, x2, x3
	msub	x0, x1, x2, x3
	mneg	x0, x1, x2
	smull	x0, w1, w2
	umull	x0, w1, w2
	smaddl	x0, w1, w2, x3
	umsubl	x0, w1, w2, x3
	smnegl	x0, w1, w2
	umnegl	x0, w1, w2
	smulh	x0, x1, x2
	umulh	x0, x1, x2
	sdiv	x0, x1, x2
	udiv	w0, w1, w2
	// one-source
	rbit	x0, x1
	rev	x0, x1
	rev	w0, w1
	rev16	x0, x1
	rev32	x0, x1
	clz	x0, x1
	cls	w0, w1
	crc32b	w0, w1, w2
	crc32cx	w0, w1, x2
	// PC-relative
	adr	x0, forms
	adrp	x0, forms
	adrp	x1, forms + 0x10000
	// branches
	b	forms
	bl	forms
	b.eq	forms
	b.ne	forms
	b.hs	forms
	b.lo	forms
	b.mi	forms
	b.pl	forms
	b.vs	forms
	b.vc	forms
	b.hi	forms
	b.ls	forms
	b.ge	forms
	b.lt	forms
	b.gt	forms
	b.le	forms
	b.al	forms
	b.nv	forms
	cbz	x0, forms
	cbz	w0, forms
	cbnz	x19, forms
	cbnz	w1, forms
	tbz	x0, #63, forms
	tbz	w0, #0, forms
	tbnz	w1, #31, forms
	tbnz	x1, #32, forms
	br	x16
	blr	x8
	braa	x16, x17
	brab	x1, sp
	braaz	x16
	brabz	x16
	blraa	x8, x9
	blrab	x8, sp
	blraaz	x8
	blrabz	x8
	eret
	eretaa
	eretab
	// PAC data and misc
	pacia	x0, x1
	pacib	x0, sp
	pacda	x0, x1
	pacdb	x0, x1
	autia	x0, x1
	autib	x0, x1
	autda	x0, x1
	autdb	x0, x1
	paciza	x0
	pacizb	x0
	autiza	x0
	xpaci	x0
	xpacd	x0
	pacga	x0, x1, x2
	paciaz
	autiaz
	pacia1716
	autib1716
	ldraa	x0, [x1]
	ldraa	x0, [x1, #8]!
	ldrab	x0, [x1, #-4096]
	// exceptions
	svc	#0
	svc	#0x1
	hvc	#0
	smc	#0
	brk	#0x800
	brk	#0
	brk	#0x3e8
	hlt	#0
	udf	#0
	udf	#0x1234
	// barriers
	dmb	ish
	dmb	ishld
	dmb	ishst
	dmb	sy
	dmb	ld
	dmb	st
	dmb	osh
	dmb	oshld
	dmb	nsh
	dmb	#0
	dsb	sy
	dsb	ish
	dsb	ishst
	dsb	nsh
	dsb	nshst
	isb
	isb	#0x3
	sb
	ssbb
	pssbb
	csdb
	// hints
	nop
	yield
	wfe
	wfi
	sev
	sevl
	esb
	psb	csync
	tsb	csync
	hint	#0x7
	hint	#0x30
	hint	#0x7f
	dgh
	// system registers
	mrs	x0, sp_el0
	msr	sp_el0, x0
	mrs	x0, tpidr_el1
	msr	tpidr_el1, x1
	mrs	x0, tpidr_el2
	mrs	x0, daif
	msr	daif, x0
	mrs	x0, nzcv
	mrs	x0, currentel
	mrs	x0, midr_el1
	mrs	x0, mpidr_el1
	mrs	x0, cntvct_el0
	mrs	x0, cntfrq_el0
	mrs	x0, esr_el1
	mrs	x0, far_el1
	mrs	x0, elr_el1
	mrs	x0, spsr_el1
	mrs	x0, sctlr_el1
	msr	sctlr_el1, x0
	mrs	x0, ttbr0_el1
	msr	ttbr1_el1, x0
	mrs	x0, tcr_el1
	mrs	x0, mair_el1
	mrs	x0, vbar_el1
	mrs	x0, par_el1
	mrs	x0, id_aa64mmfr0_el1
	mrs	x0, id_aa64isar1_el1
	mrs	x0, id_aa64pfr0_el1
	mrs	x0, cpacr_el1
	mrs	x0, contextidr_el1
	mrs	x0, mdscr_el1
	mrs	x0, fpcr
	msr	fpsr, x0
	mrs	x0, tpidr_el0
	mrs	x0, tpidrro_el0
	mrs	x0, pmcr_el0
	mrs	x0, hcr_el2
	mrs	x0, s3_0_c15_c2_0
	msr	s3_7_c15_c0_0, x0
	// pstate
	msr	daifset, #0x2
	msr	daifclr, #0xf
	msr	daifset, #0x3
	msr	spsel, #0x1
	msr	pan, #0x1
	msr	uao, #0x0
	msr	ssbs, #0x1
	msr	dit, #0x1
	msr	tco, #0x0
	// sys aliases
	dc	civac, x0
	dc	cvau, x1
	dc	cvac, x2
	dc	zva, x3
	dc	ivac, x4
	dc	cvap, x5
	ic	iallu
	ic	ialluis
	ic	ivau, x0
	at	s1e1r, x0
	tlbi	vmalle1is
	tlbi	vae1is, x0
	tlbi	vale1is, x0
	tlbi	aside1is, x0
	tlbi	vmalle1
	sys	#0, c7, c5, #0
	sys	#3, c15, c1, #2, x3
	sysl	x0, #0, c15, c1, #2
	// FP / SIMD commonly in kernels
	fmov	d0, x1
	fmov	x0, d1
	fmov	s0, w1
	fmov	d0, #1.0
	fmov	s0, #-2.5
	fmov	d0, d1
	movi	v0.2d, #0x0
	movi	v0.16b, #0xff
	movi	d0, #0xff00ff00ff00ff00
	mov	v0.16b, v1.16b
	mov	v0.s[1], w1
	mov	w0, v1.s[1]
	mov	x0, v1.d[0]
	umov	w0, v1.b[3]
	dup	v0.4s, w1
	eor	v0.16b, v1.16b, v2.16b
	add	v0.4s, v1.4s, v2.4s
	ld1	{v0.16b}, [x0]
	ld1	{v0.16b, v1.16b}, [x0], #32
	st1	{v0.2d-v3.2d}, [x1], x2
	ld1	{v0.s}[1], [x0]
	fadd	d0, d1, d2
	fcmp	d0, #0.0
	scvtf	d0, x1
	fcvtzs	w0, d1
	aese	v0.16b, v1.16b
	aesmc	v0.16b, v0.16b
	pmull	v0.1q, v1.1d, v2.1d
	cnt	v0.8b, v0.8b
	addv	b0, v0.8b
	uaddlv	h0, v0.8b
	// MTE
	irg	x0, sp
	stg	x0, [x0]
	ldg	x0, [x1, #16]
	// misc
	setf8	w0
	cfinv
	axflag
	rmif	x0, #3, #2
	// SVE state save/restore and WFxT (decoded by extra.rs)
	str	z0, [x0, #-34, mul vl]
	ldr	z31, [x1]
	ldr	z7, [sp, #255, mul vl]
	str	p15, [x0, #-16, mul vl]
	ldr	p0, [x0]
	pfalse	p3.b
	rdffr	p0.b
	wrffr	p1.b
	rdvl	x0, #1
	rdvl	x2, #-32
	.inst	0xd5031015	// wfet x21
	.inst	0xd5031020	// wfit x0
	.inst	0x00000000
	.inst	0xffffffff
	.inst	0xd503201f
