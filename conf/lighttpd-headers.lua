-- Security headers on every response lighttpd sends, run by mod_magnet when
-- the response starts (conf/lighttpd.conf: magnet.attract-response-start-to).
-- That hook also runs for the errors lighttpd answers itself before any
-- module has seen the request (411, 413, 431, a malformed request's 400,
-- 505) and for 502-504 while a FastCGI program is down, which
-- mod_setenv's response headers miss. Each header is set, replacing what a
-- program sent, so it appears exactly once. The API's policy
-- (default-src 'none') on /api/ and /metrics, and on a request too malformed
-- to have a path; static files (the web client, media) get the client's.
local r = lighty.r
local h = r.resp_header
local path = r.req_attr["uri.path"] or ""
local api = path == "" or path:sub(1, 5) == "/api/" or path == "/metrics"

h["X-Content-Type-Options"] = "nosniff"
h["X-Frame-Options"] = "DENY"
h["Referrer-Policy"] = "no-referrer"
if api then
	h["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
else
	-- same-origin MSE players (hls.js) feed the video element and their worker from blob: URLs
	h["Content-Security-Policy"] =
		"default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; frame-ancestors 'none'"
end
h["Cross-Origin-Resource-Policy"] = "same-origin"
return 0
