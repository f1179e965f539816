/* hello.fcgi — the benchmark's ceiling: the smallest libfcgi program that answers JSON. */
#include <fcgiapp.h>

int main(void)
{
	FCGX_Request r;
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
			  "{\"hello\":\"world\"}", r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
