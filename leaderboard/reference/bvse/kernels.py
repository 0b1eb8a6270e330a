"""Compiled inner loops of the BVSE calculator (numba, ``cache=True``).

:func:`landscape_blocks` is a plain loop that numba compiles once per machine (the compiled
code is cached next to this file, or in ``NUMBA_CACHE_DIR``): the BVSE energy of every grid
point, block by block (blocks in parallel threads; every point is summed by one thread in
a fixed order, so the result does not depend on the number of threads). The percolation
sweep is the physics layer's compiled periodic union-find
(:func:`litraj_data.leaderboard.reference.physics.periodic_compiled.grid_percolation_sweep`).

The arithmetic of :func:`landscape_blocks` is the one of the numpy path it replaced (kept as
the test oracle in ``tests/bvse_reference.py``): same block-centred coordinates, same
squared distances, same k-th-nearest limit with ties, ``exp`` for the Morse term and the
same cubic Hermite erfc table, so that grid energies agree to ~1e-14 eV and the barriers,
rounded to 1e-9 eV, are the same numbers.
"""
from __future__ import annotations

import numba as nb
import numpy as np

SENTINEL_D2 = 1e16  # Å^2: "no limit" for blocks without uncertain ions (every kept ion counts)
TIE = 1e-9  # Å; same meaning as landscape.TIE (ions this close to the limit are inside it)
EPS = 1e-6  # Å; margin of the block bounds over float round-off in distances


@nb.njit(cache=True, nogil=True)
def _kth_smallest(a: np.ndarray, n: int, kk: int) -> float:
    """Exact kk-th smallest (1-based) of ``a[:n]``, reordering ``a[:n]`` in place (quickselect)."""
    lo, hi, want = 0, n - 1, kk - 1
    while hi > lo:
        # median of three as pivot: sorted-ish inputs (distances by ion order) stay O(n)
        mid = (lo + hi) // 2
        x, y, z = a[lo], a[mid], a[hi]
        if x > y:
            x, y = y, x
        if y > z:
            y = z
            if x > y:
                y = x
        pivot = y
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if want <= j:
            hi = j
        elif want >= i:
            lo = i
        else:
            return a[want]  # between j and i: equal to the pivot
    return a[want]


@nb.njit(cache=True, nogil=True)
def _kth_near(a: np.ndarray, n: int, kk: int, guess: float) -> float:
    """Exact kk-th smallest of ``a[:n]`` given a close guess of it (the previous point's).

    Counts the entries <= guess, then walks down from the guess (or up from it) one distinct
    value at a time: a handful of vectorisable passes where neighbouring grid points share
    almost all of their k nearest. Returns -1 after 4 steps without an answer (the caller
    then runs :func:`_kth_smallest` on a copy). ``a`` is not modified.
    """
    c = 0
    for q in range(n):
        if a[q] <= guess:
            c += 1
    if c >= kk:
        # the answer is the (c - kk + 1)-th largest value <= guess
        drop = c - kk
        top = guess
        for _ in range(4):
            m = -np.inf
            for q in range(n):
                if a[q] <= top and a[q] > m:
                    m = a[q]
            cnt = 0
            for q in range(n):
                if a[q] == m:
                    cnt += 1
            if drop < cnt:
                return m
            drop -= cnt
            top = np.nextafter(m, -np.inf)
    else:
        need = kk - c  # the need-th smallest value > guess
        bottom = guess
        for _ in range(4):
            m = np.inf
            for q in range(n):
                if a[q] > bottom and a[q] < m:
                    m = a[q]
            cnt = 0
            for q in range(n):
                if a[q] == m:
                    cnt += 1
            if need <= cnt:
                return m
            need -= cnt
            bottom = m
    return -1.0


@nb.njit(cache=True, inline="always")
def _with_ties_jit(limit_d2: float) -> float:
    """Squared-distance limit widened by :data:`TIE` (as the oracle's ``_with_ties`` in ``tests/bvse_reference.py``)."""
    return limit_d2 + 2.0 * TIE * np.sqrt(limit_d2)


@nb.njit(cache=True, nogil=True)
def _block(b, starts, sizes, step, centre, rad, cand, images, owner, coul_ion, half_d0, alpha, r_min, pref,
           s_scale, k, cutoff, table, energies):
    """Energies of one block of grid points; returns the number of pair terms summed."""
    n_c = len(cand)
    if n_c == 0:
        for i in range(sizes[b, 0]):
            for j in range(sizes[b, 1]):
                for l in range(sizes[b, 2]):
                    energies[starts[b, 0] + i, starts[b, 1] + j, starts[b, 2] + l] = 0.0
        return 0
    cut2 = cutoff * cutoff
    pos = np.empty((n_c, 3))
    dc = np.empty(n_c)
    for a in range(n_c):
        for ax in range(3):
            pos[a, ax] = images[cand[a], ax] - centre[ax]
        s = pos[a, 0] * pos[a, 0] + pos[a, 1] * pos[a, 1] + pos[a, 2] * pos[a, 2]
        dc[a] = np.sqrt(s)
    # every point's limit L(p) = min(d_k(p), cutoff) lies in [lo, hi]: distances from the
    # block centre move by at most the block radius
    use_k = k > 0 and n_c > k
    if use_k:
        tmp = dc.copy()
        d_k = _kth_smallest(tmp, n_c, k)
        lo_l, hi_l = min(d_k - rad, cutoff), min(d_k + rad, cutoff)
    else:
        lo_l = hi_l = cutoff
    # kept ions in column order: Morse certain | Morse uncertain | Coulomb uncertain |
    # Coulomb certain (the numpy path's order), each group in candidate order
    cols = np.empty(n_c, dtype=np.int64)
    bounds = np.empty(4, dtype=np.int64)  # end of each group in cols
    n = 0
    for group in range(4):
        for a in range(n_c):
            certain = dc[a] <= lo_l - rad - EPS
            keep = dc[a] <= hi_l + rad + EPS
            c = coul_ion[owner[cand[a]]]
            if group == 0:
                take = (not c) and certain
            elif group == 1:
                take = (not c) and keep and not certain
            elif group == 2:
                take = c and keep and not certain
            else:
                take = c and certain
            if take:
                cols[n] = a
                n += 1
        bounds[group] = n
    u0, n_morse, u1 = bounds[0], bounds[1], bounds[2]
    n_certain = u0 + (n - u1)
    # block-local structure of arrays of the kept ions
    px, py, pz = np.empty(n), np.empty(n), np.empty(n)
    hd, al, rm, pf, ss = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for q in range(n):
        a = cols[q]
        ion = owner[cand[a]]
        px[q], py[q], pz[q] = pos[a, 0], pos[a, 1], pos[a, 2]
        hd[q], al[q], rm[q], pf[q], ss[q] = half_d0[ion], alpha[ion], r_min[ion], pref[ion], s_scale[ion]
    d2u = np.empty(max(u1 - u0, 1))  # squared distances of the uncertain ions
    scratch = np.empty(max(u1 - u0, 1))  # reordered by quickselect
    select = use_k and n_certain + (u1 - u0) > k
    last = table.shape[0] - 1
    n_pairs = 0
    guess = -1.0  # previous point's k-th smallest squared distance (none yet)
    # the block's points relative to its centre: index @ step - centre, as the numpy path
    for i in range(sizes[b, 0]):
        for j in range(sizes[b, 1]):
            for l in range(sizes[b, 2]):
                gi, gj, gl = starts[b, 0] + i, starts[b, 1] + j, starts[b, 2] + l
                x = gi * step[0, 0] + gj * step[1, 0] + gl * step[2, 0] - centre[0]
                y = gi * step[0, 1] + gj * step[1, 1] + gl * step[2, 1] - centre[1]
                z = gi * step[0, 2] + gj * step[1, 2] + gl * step[2, 2] - centre[2]
                limit = SENTINEL_D2
                if u1 > u0:
                    for q in range(u0, u1):
                        dx = x - px[q]
                        dy = y - py[q]
                        dz = z - pz[q]
                        d2u[q - u0] = dx * dx + dy * dy + dz * dz
                    m = u1 - u0
                    if select:
                        kk = k - n_certain
                        if guess >= 0.0:
                            guess = _kth_near(d2u, m, kk, guess)
                        if guess < 0.0:  # first point, or the guess was too far off
                            for q in range(m):
                                scratch[q] = d2u[q]
                            guess = _kth_smallest(scratch, m, kk)
                        limit = _with_ties_jit(min(guess, cut2))
                    else:
                        limit = _with_ties_jit(cut2)
                    inside = 0
                    for q in range(m):
                        if d2u[q] <= limit:
                            inside += 1
                    n_pairs += n_certain + inside
                else:
                    n_pairs += n_certain
                # Morse (certain, then uncertain within the limit), then Coulomb (uncertain
                # within the limit, then certain); excluded pairs are skipped, not zeroed
                e_morse = 0.0
                e_pair = 0.0
                for q in range(n_morse):
                    if q < u0:
                        dx = x - px[q]
                        dy = y - py[q]
                        dz = z - pz[q]
                        dd = dx * dx + dy * dy + dz * dz
                    else:
                        dd = d2u[q - u0]
                        if dd > limit:
                            continue
                    t = np.exp((rm[q] - np.sqrt(dd)) * al[q])
                    e_morse += (t * t) * hd[q]
                    e_pair += t * hd[q]
                e = e_morse - 2.0 * e_pair
                e_coul = 0.0
                for q in range(n_morse, n):
                    if q >= u1:
                        dx = x - px[q]
                        dy = y - py[q]
                        dz = z - pz[q]
                        dd = dx * dx + dy * dy + dz * dz
                    else:
                        dd = d2u[q - u0]
                        if dd > limit:
                            continue
                    r = max(np.sqrt(dd), 1e-6)
                    sx = min(r * ss[q], last)
                    ti = int(sx)
                    sx -= ti
                    v = ((table[ti, 3] * sx + table[ti, 2]) * sx + table[ti, 1]) * sx + table[ti, 0]
                    e_coul += v / r * pf[q]
                energies[gi, gj, gl] = e + e_coul
    return n_pairs


@nb.njit(cache=True, parallel=True)
def landscape_blocks(starts, sizes, step, centres, radii, cand_ptr, cand_idx, images, owner, coul_ion, half_d0,
                     alpha, r_min, pref, s_scale, k, cutoff, table, energies):
    """Fill ``energies`` block by block (in parallel); returns the pair terms summed per block.

    ``k <= 0`` means every ion within the cutoff. ``table`` holds the erfc Hermite
    coefficients as rows ``(c0, c1, c2, c3)`` in the variable ``x / ERFC_STEP``.
    """
    nb_ = starts.shape[0]
    pairs = np.zeros(nb_, dtype=np.int64)
    # blocks in descending cost first would balance better; blocks are equal-sized, so a
    # static split is close enough and keeps the code simple
    for b in nb.prange(nb_):
        pairs[b] = _block(b, starts, sizes, step, centres[b], radii[b], cand_idx[cand_ptr[b]:cand_ptr[b + 1]],
                          images, owner, coul_ion, half_d0, alpha, r_min, pref, s_scale, k, cutoff, table,
                          energies)
    return pairs


@nb.njit(cache=True)
def landscape_blocks_serial(starts, sizes, step, centres, radii, cand_ptr, cand_idx, images, owner, coul_ion,
                            half_d0, alpha, r_min, pref, s_scale, k, cutoff, table, energies):
    """:func:`landscape_blocks` on the calling thread only (one thread; worker processes).

    A separate function, not ``njit`` of the same Python function, because numba's cache
    is keyed by the function: the two compilations would share (and swap) cache entries.

    ``k <= 0`` means every ion within the cutoff. ``table`` holds the erfc Hermite
    coefficients as rows ``(c0, c1, c2, c3)`` in the variable ``x / ERFC_STEP``.
    """
    nb_ = starts.shape[0]
    pairs = np.zeros(nb_, dtype=np.int64)
    for b in range(nb_):
        pairs[b] = _block(b, starts, sizes, step, centres[b], radii[b], cand_idx[cand_ptr[b]:cand_ptr[b + 1]],
                          images, owner, coul_ion, half_d0, alpha, r_min, pref, s_scale, k, cutoff, table,
                          energies)
    return pairs

