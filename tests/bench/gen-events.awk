# Synthetic watch events for tests/bench/gen-events: reads the viewers and the
# catalogue, writes N events in time order to EVENTS and one progress row per
# viewer and title to PROGRESS (tab-separated, for LOAD DATA).
#
#   awk -v N=... -v T0=... -v T1=... -v SEED=... -v EVENTS=... -v PROGRESS=... \
#       -f gen-events.awk USERS CONTENT
#   USERS:   user_id <tab> access level (0..3)
#   CONTENT: content_id <tab> access level <tab> duration in minutes
#
# A viewing: 'start' at the position it begins from (0 for a new title),
# 'progress' every 5 minutes watched (at most 12), 'complete' when it passes
# 90 % of the title, 'stop' where it ends (missing in 5 % of viewings: the
# player died). Viewers are picked by a heavy-tailed activity weight, titles
# by a Zipf-like popularity among those the viewer's plan allows; 60 % of
# viewings resume the viewer's unfinished title. Viewings start in time
# order, at a pace set by the share of the N events written so far, so the
# last one starts near T1; within a day the clock is bent towards the evening.
# Times are UTC.

function civil(days,    z, era, doe, yoe, y, doy, mp, d, m) { # days since 1970-01-01 -> "YYYY-MM-DD"
	z = days + 719468
	era = int(z / 146097)
	doe = z - era * 146097
	yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
	y = yoe + era * 400
	doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
	mp = int((5 * doy + 2) / 153)
	d = doy - int((153 * mp + 2) / 5) + 1
	m = mp < 10 ? mp + 3 : mp - 9
	if (m <= 2) y++
	return sprintf("%04d-%02d-%02d", y, m, d)
}

function ts(t,    day, ms) { # epoch seconds (with fraction) -> "YYYY-MM-DD HH:MM:SS.mmm"
	day = int(t / 86400)
	if (!(day in DAYSTR)) DAYSTR[day] = civil(day)
	ms = int((t - day * 86400) * 1000)
	return sprintf("%s %02d:%02d:%02d.%03d", DAYSTR[day], int(ms / 3600000), int(ms / 60000) % 60,
		int(ms / 1000) % 60, ms % 1000)
}

function pick(cum, n, x,    lo, hi, mid) { # smallest i in 1..n with cum[i] >= x
	lo = 1; hi = n
	while (lo < hi) {
		mid = int((lo + hi) / 2)
		if (cum[mid] >= x) hi = mid; else lo = mid + 1
	}
	return lo
}

function pickl(l, x,    lo, hi, mid) { # the same over the titles of level l
	lo = 1; hi = LN[l]
	while (lo < hi) {
		mid = int((lo + hi) / 2)
		if (LCUM[l, mid] >= x) hi = mid; else lo = mid + 1
	}
	return lo
}

function emit(u, c, ev, pos, t) {
	printf "%d\t%d\t%s\t%d\t%s\n", u, c, ev, pos, ts(t) > EVENTS
	written++
}

# bend a uniform position within a day towards the evening (monotone, so the
# order of viewings is kept)
function diurnal(x,    day, f, h) {
	day = int(x / 86400)
	f = (x - day * 86400) / 86400
	h = pick(HCUM, 24, f)
	return day * 86400 + 3600 * (h - 1 + (f - HCUM[h - 1]) / (HCUM[h] - HCUM[h - 1]))
}

BEGIN { FS = "\t"; srand(SEED) }

FILENAME == ARGV[1] {
	nu++
	UID_[nu] = $1
	ULEVEL[nu] = $2
	# activity: heavy-tailed (a few viewers watch far more than most)
	w = -log(1 - rand() * 0.999)
	UCUM[nu] = (nu > 1 ? UCUM[nu - 1] : 0) + w * w
	next
}

{
	nc++
	CID[nc] = $1
	CLEVEL[nc] = $2
	CDUR[nc] = $3 * 60
}

END {
	if (nu == 0 || nc == 0) { print "gen-events.awk: no viewers or no titles" > "/dev/stderr"; exit 1 }
	# popularity: Zipf over a random ranking of the titles
	for (i = 1; i <= nc; i++) RANK[i] = i
	for (i = nc; i > 1; i--) { j = 1 + int(rand() * i); x = RANK[i]; RANK[i] = RANK[j]; RANK[j] = x }
	for (l = 0; l <= 3; l++) {
		n = 0
		for (i = 1; i <= nc; i++) if (CLEVEL[i] <= l) {
			n++
			LIDX[l, n] = i
			LCUM[l, n] = (n > 1 ? LCUM[l, n - 1] : 0) + 1 / RANK[i] ^ 0.9
		}
		LN[l] = n
	}
	# share of viewings starting in each hour of the day (UTC)
	split("2 1 1 1 1 1 2 3 3 3 3 4 5 4 4 4 5 6 8 10 11 10 7 4", HW, " ")
	for (h = 1; h <= 24; h++) tot += HW[h]
	HCUM[0] = 0
	for (h = 1; h <= 24; h++) HCUM[h] = HCUM[h - 1] + HW[h] / tot
	HCUM[24] = 1

	span = T1 - T0 - 4 * 3600 # the last viewings end before T1
	written = 0
	while (written < N) {
		t = diurnal(T0 + span * written / N) + rand() * 60
		k = pick(UCUM, nu, rand() * UCUM[nu])
		u = UID_[k]
		if ((u in CUR) && rand() < 0.6) { # resume the unfinished title
			ci = CUR[u]
			a = POS[u, ci]
		} else {
			l = ULEVEL[k]
			ci = LIDX[l, pickl(l, rand() * LCUM[l, LN[l]])]
			a = 0
		}
		c = CID[ci]
		D = CDUR[ci]
		# minutes watched this time: exponential, mean 40
		s = int(-log(1 - rand() * 0.9999) * 2400) + 30
		b = a + s
		if (b > D) b = D
		if (b > D * 0.97) b = D # the credits: most who get there finish
		emit(u, c, "start", a, t)
		np = int((b - a) / 300)
		if (np > 12) np = 12
		for (p = 1; p <= np && written < N; p++) {
			x = a + int((b - a) * p / (np + 1))
			emit(u, c, "progress", x, t + (x - a) + rand())
		}
		done_ = a < D * 0.9 && b >= D * 0.9
		if (done_ && written < N) emit(u, c, "complete", int(D * 0.9), t + (D * 0.9 - a))
		if (rand() >= 0.05 && written < N) emit(u, c, "stop", b, t + (b - a) + rand())
		# the viewer's progress row for this title
		key = u SUBSEP c
		if (!(key in PFIRST)) PFIRST[key] = t
		PLAST[key] = t + (b - a)
		PW[key] = b
		PT[key] = D
		if (done_) PDONE[key] = t + (D * 0.9 - a)
		if (b >= D * 0.9) { delete CUR[u] } else { CUR[u] = ci; POS[u, ci] = b }
	}
	close(EVENTS)
	for (key in PW) {
		split(key, kk, SUBSEP)
		pct = PT[key] ? PW[key] / PT[key] : 0
		st = pct >= 0.9 ? "completed" : (pct < 0.05 ? "started" : "paused")
		printf "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", kk[1], kk[2], PW[key], PT[key], st,
			(key in PDONE) ? ts(PDONE[key]) : "\\N", ts(PFIRST[key]), ts(PLAST[key]) > PROGRESS
		rows++
	}
	close(PROGRESS)
	printf "%d events, %d progress rows\n", written, rows > "/dev/stderr"
}
