/* Per-client rate-limit keys: IPv4 as itself, IPv6 by its /64, one spelling per key. */
#include "unit.h"
#include "sp_http.h"

#include <stdio.h>
#include <string.h>

static const char *key(const char *ip)
{
	static char out[4][64];
	static int i;

	i = (i + 1) % 4;
	sp_client_key(ip, out[i], sizeof out[i]);
	return out[i];
}

static void test_ipv4_client_key_is_the_address(void)
{
	CU_ASSERT_STRING_EQUAL(key("198.18.0.7"), "198.18.0.7");
	CU_ASSERT_STRING_NOT_EQUAL(key("198.18.0.7"), key("198.18.0.8"));
}

static void test_ipv6_addresses_in_one_64_share_a_key(void)
{
	char ip[64];
	const char *first = key("2001:db8:1:2::1");

	CU_ASSERT_STRING_EQUAL(first, "2001:db8:1:2::/64");
	for (int i = 0; i < 200; i++) {
		snprintf(ip, sizeof ip, "2001:db8:1:2:%x:%x:%x:%x", i * 331 % 65536, i, 65535 - i,
		         i * 7);
		CU_ASSERT_STRING_EQUAL(key(ip), "2001:db8:1:2::/64");
	}
}

static void test_ipv6_addresses_in_different_64s_do_not_share_a_key(void)
{
	CU_ASSERT_STRING_NOT_EQUAL(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
	CU_ASSERT_STRING_NOT_EQUAL(key("2001:db8:1:2::1"), key("2001:db9:1:2::1"));
	CU_ASSERT_STRING_EQUAL(key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
}

static void test_spellings_of_one_ipv6_address_share_a_key(void)
{
	static const char *spellings[] = {"2001:db8:0:5::9",
	                                  "2001:DB8:0:5::9",
	                                  "2001:0db8:0000:0005:0000:0000:0000:0009",
	                                  "2001:db8::5:0:0:0:9",
	                                  "2001:db8:0:5:0:0:0:9",
	                                  NULL};

	for (int i = 0; spellings[i]; i++)
		CU_ASSERT_STRING_EQUAL(key(spellings[i]), "2001:db8:0:5::/64");
}

static void test_ipv4_mapped_ipv6_is_keyed_as_ipv4(void)
{
	CU_ASSERT_STRING_EQUAL(key("::ffff:198.18.0.7"), "198.18.0.7");
	CU_ASSERT_STRING_EQUAL(key("::FFFF:c612:0007"), "198.18.0.7");
	CU_ASSERT_STRING_NOT_EQUAL(key("::ffff:198.18.0.7"), key("::ffff:198.18.0.8"));
}

static void test_unparsable_client_address_is_kept_as_given(void)
{
	CU_ASSERT_STRING_EQUAL(key("unknown"), "unknown");
}

void suite_client_key(void)
{
	CU_pSuite s = CU_add_suite("client_key", NULL, NULL);

	ADD_TEST(s, test_ipv4_client_key_is_the_address);
	ADD_TEST(s, test_ipv6_addresses_in_one_64_share_a_key);
	ADD_TEST(s, test_ipv6_addresses_in_different_64s_do_not_share_a_key);
	ADD_TEST(s, test_spellings_of_one_ipv6_address_share_a_key);
	ADD_TEST(s, test_ipv4_mapped_ipv6_is_keyed_as_ipv4);
	ADD_TEST(s, test_unparsable_client_address_is_kept_as_given);
}
