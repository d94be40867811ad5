/*
 * The benchmark's ceiling: the smallest FastCGI program, served by the same
 * web server as the API, so every figure is a ratio within one run.
 */
#include <fcgiapp.h>

int main(void)
{
	FCGX_Request r;
	static const char resp[] = "Status: 200 OK\r\nContent-Type: application/json\r\n"
	                           "Content-Length: 17\r\n\r\n{\"hello\":\"world\"}";

	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutStr(resp, sizeof resp - 1, r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
