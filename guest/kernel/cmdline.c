/* cmdline.c: the kernel command line, copied at boot, and key=value lookup. */
#include "tiny.h"

#define CMDLINE_MAX 2048

static char buf[CMDLINE_MAX];
static bool truncated;

void cmdline_init(u64 paddr)
{
	if (paddr == 0)
		return;
	const char *src = (const char *)(uintptr_t)paddr;
	size_t i = 0;
	for (; i < CMDLINE_MAX - 1 && src[i]; i++)
		buf[i] = src[i];
	buf[i] = '\0';
	truncated = src[i] != '\0';
}

const char *cmdline(void)
{
	return buf;
}

bool cmdline_truncated(void)
{
	return truncated;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * cmdline_value finds the last whitespace-separated token "key=value" and
 * points *val at its value (not NUL-terminated; *len bytes). The last one
 * wins, as in Linux.
 */
bool cmdline_value(const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);
	bool found = false;
	const char *p = buf;
	while (*p) {
		while (*p && is_space(*p))
			p++;
		const char *tok = p;
		while (*p && !is_space(*p))
			p++;
		size_t tlen = (size_t)(p - tok);
		if (tlen > klen && memcmp(tok, key, klen) == 0 && tok[klen] == '=') {
			*val = tok + klen + 1;
			*len = tlen - klen - 1;
			found = true;
		}
	}
	return found;
}
