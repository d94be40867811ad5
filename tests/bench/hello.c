/*
 * The benchmark's ceiling: the smallest FastCGI program, served by the same
 * web server as the API, so every figure is a ratio within one run.
 *
 * With SP_HELLO_BYTES set (the web server's /bench/page) it answers a JSON
 * body of that many bytes instead: the same ceiling for an answer as large
 * as a catalogue page, to tell the cost of the bytes from the cost of the work.
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	FCGX_Request r;
	static const char small[] = "Status: 200 OK\r\nContent-Type: application/json\r\n"
	                            "Content-Length: 17\r\n\r\n{\"hello\":\"world\"}";
	const char *resp = small;
	size_t len = sizeof small - 1;
	const char *env = getenv("SP_HELLO_BYTES");
	long want = env ? strtol(env, NULL, 10) : 0;
	char *big = NULL;

	if (want >= 16 && want <= 1 << 20) {
		size_t hl;
		big = malloc((size_t)want + 128);
		if (big == NULL)
			return 1;
		hl = (size_t)snprintf(big, 128,
		                      "Status: 200 OK\r\nContent-Type: application/json\r\n"
		                      "Content-Length: %ld\r\n\r\n{\"hello\":\"",
		                      want);
		memset(big + hl, 'x', (size_t)want - 12);
		memcpy(big + hl + (size_t)want - 12, "\"}", 2);
		resp = big;
		len = hl + (size_t)want - 10;
	}
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(resp, (int)len, r.out);
		FCGX_Finish_r(&r);
	}
	free(big);
	return 0;
}
