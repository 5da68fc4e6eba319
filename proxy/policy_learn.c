// SPDX-License-Identifier: GPL-2.0-only
/* depfence learn's grouping (policy_learn.h). */
#include "policy_learn.h"

#include <string.h>

/* The common public suffixes: partial on purpose, documented as such. */
static const char *const public_suffixes[] = {
    "com",
    "net",
    "org",
    "io",
    "dev",
    "app",
    "cloud",
    "ai",
    "me",
    "info",
    "biz",
    "xyz",
    "gov",
    "edu",
    "mil",
    "int",
    "co",
    "us",
    "uk",
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "de",
    "fr",
    "nl",
    "eu",
    "jp",
    "co.jp",
    "ne.jp",
    "cn",
    "com.cn",
    "au",
    "com.au",
    "net.au",
    "ca",
    "ru",
    "br",
    "com.br",
    "in",
    "co.in",
    "arpa",
    "in-addr.arpa",
    "ip6.arpa",
    "test",
    "invalid",
    "local",
    "localhost",
    "example",
    "github.io",
    "gitlab.io",
    "herokuapp.com",
    "azurewebsites.net",
    "cloudfront.net",
    "amazonaws.com",
    "s3.amazonaws.com",
    "appspot.com",
    "web.app",
    "firebaseapp.com",
    "pages.dev",
    "workers.dev",
    "vercel.app",
    "netlify.app",
    "blogspot.com",
    "readthedocs.io",
    "fly.dev",
    "onrender.com",
    "azureedge.net",
    "trafficmanager.net",
};

bool learn_public_suffix(const char *name)
{
	size_t i;

	if (!strchr(name, '.'))
		return true;
	for (i = 0; i < sizeof(public_suffixes) / sizeof(public_suffixes[0]); i++)
		if (strcasecmp(name, public_suffixes[i]) == 0)
			return true;
	return false;
}

static const char *parent_of(const char *name)
{
	const char *dot = strchr(name, '.');

	return dot ? dot + 1 : NULL;
}

/* Is NAME PARENT itself or directly under it? */
static bool member(const char *name, const char *parent)
{
	const char *p = parent_of(name);

	return strcmp(name, parent) == 0 || (p && strcmp(p, parent) == 0);
}

/* NAME is PARENT or any name under it. */
static bool under_or_is(const char *name, const char *parent)
{
	size_t ln = strlen(name), lp = strlen(parent);

	return ln >= lp && strcmp(name + ln - lp, parent) == 0 &&
	       (ln == lp || name[ln - lp - 1] == '.');
}

void learn_group(struct learn_name *v, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		v[i].rule = v[i].name;
	for (i = 0; i < n; i++) {
		const char *p = parent_of(v[i].name);
		size_t under = 0;
		bool ok = true;

		if (!p || v[i].rule != v[i].name || learn_public_suffix(p))
			continue;
		for (j = 0; j < n && ok; j++) {
			if (!member(v[j].name, p))
				continue;
			ok = v[j].allowed;
			under += strcmp(v[j].name, p) != 0;
		}
		/* Nothing refused deeper down either: the group would allow it. */
		for (j = 0; j < n && ok; j++)
			if (under_or_is(v[j].name, p))
				ok = v[j].allowed;
		if (!ok || under < 2)
			continue;
		for (j = 0; j < n; j++)
			if (under_or_is(v[j].name, p))
				v[j].rule = v[j].name + strlen(v[j].name) - strlen(p);
	}
}
