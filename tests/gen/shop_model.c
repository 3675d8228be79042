/*
 * shop_model.c
 *	  The deterministic model of the sample stationery shop.
 */
#include "shop_model.h"

#include <math.h>

#define STREAM_USER 1

static const struct
{
	const char *kanji;
	const char *romaji;
}			family_names[] = {
	{"佐藤", "sato"}, {"鈴木", "suzuki"}, {"高橋", "takahashi"},
	{"田中", "tanaka"}, {"伊藤", "ito"}, {"渡辺", "watanabe"},
	{"山本", "yamamoto"}, {"中村", "nakamura"}, {"小林", "kobayashi"},
	{"加藤", "kato"}, {"吉田", "yoshida"}, {"山田", "yamada"},
	{"佐々木", "sasaki"}, {"山口", "yamaguchi"}, {"松本", "matsumoto"},
	{"井上", "inoue"}, {"木村", "kimura"}, {"林", "hayashi"},
	{"斎藤", "saito"}, {"清水", "shimizu"},
}, female_names[] = {
	{"陽菜", "hina"}, {"結衣", "yui"}, {"美咲", "misaki"}, {"さくら", "sakura"},
	{"葵", "aoi"}, {"凛", "rin"}, {"花子", "hanako"}, {"恵子", "keiko"},
	{"由美", "yumi"}, {"愛", "ai"}, {"真由美", "mayumi"}, {"芽依", "mei"},
}, male_names[] = {
	{"蓮", "ren"}, {"大翔", "hiroto"}, {"悠真", "yuma"}, {"湊", "minato"},
	{"太郎", "taro"}, {"健太", "kenta"}, {"翔太", "shota"}, {"拓也", "takuya"},
	{"誠", "makoto"}, {"浩", "hiroshi"}, {"大輔", "daisuke"}, {"隆", "takashi"},
}, other_names[] = {
	{"ひかる", "hikaru"}, {"薫", "kaoru"}, {"真琴", "makoto"}, {"翼", "tsubasa"},
};

#define N(a) ((int) (sizeof(a) / sizeof((a)[0])))

static const char *const categories[SHOP_CATEGORY_COUNT][2] = {
	{"pens", "ペン"}, {"notebooks", "ノート"}, {"pencils", "鉛筆・シャープペン"},
	{"erasers", "消しゴム"}, {"sticky-notes", "付箋"}, {"files", "ファイル"},
	{"scissors", "はさみ"}, {"rulers", "定規"}, {"letters", "便箋・封筒"},
	{"planners", "手帳"}, {"fountain-pens", "万年筆・インク"}, {"tape-glue", "テープ・のり"},
};

void
shop_size_for(double scale, shop_size *size)
{
	size->users = lround(100000 * scale);
	if (size->users < 10)
		size->users = 10;
	size->products = lround(10000 * scale);
	if (size->products < 10)
		size->products = 10;
	size->sales = 2 * lround(750000 * scale);
	if (size->sales < 2)
		size->sales = 2;
	size->sales_details = 3 * size->sales;
}

/* splitmix64's finaliser over a combination of the inputs */
uint64_t
shop_rand(uint64_t seed, uint32_t stream, uint64_t id, uint32_t field)
{
	uint64_t	z = seed * 0x9E3779B97F4A7C15ULL ^
		((uint64_t) stream << 56) ^ ((uint64_t) field << 40) ^ id;

	z += 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void
shop_user_get(uint64_t seed, long id, shop_user *u)
{
	uint64_t	r_age = shop_rand(seed, STREAM_USER, id, 1) % 1000;
	uint64_t	r_gender = shop_rand(seed, STREAM_USER, id, 2) % 100;
	uint64_t	r_occ = shop_rand(seed, STREAM_USER, id, 3) % 100;
	uint64_t	r_fam = shop_rand(seed, STREAM_USER, id, 4);
	uint64_t	r_given = shop_rand(seed, STREAM_USER, id, 5);
	int			g;

	/* a stationery shop's customers: many students and young workers */
	if (r_age < 250)
		u->age = 15 + r_age % 8;	/* 15-22 */
	else if (r_age < 700)
		u->age = 23 + r_age % 22;	/* 23-44 */
	else
		u->age = 45 + r_age % 35;	/* 45-79 */

	if (r_gender < 55)
		u->gender = "female";
	else if (r_gender < 97)
		u->gender = "male";
	else
		u->gender = "other";

	if (u->age <= 22)
		u->occupation = r_occ < 85 ? "学生" : "パート・アルバイト";
	else if (u->age >= 65)
		u->occupation = r_occ < 60 ? "無職" : (r_occ < 80 ? "自営業" : "その他");
	else if (r_occ < 50)
		u->occupation = "会社員";
	else if (r_occ < 60)
		u->occupation = "公務員";
	else if (r_occ < 70)
		u->occupation = "自営業";
	else if (r_occ < 82)
		u->occupation = "パート・アルバイト";
	else if (r_occ < 92)
		u->occupation = "専業主婦・主夫";
	else
		u->occupation = "その他";

	u->family = family_names[r_fam % N(family_names)].kanji;
	u->family_romaji = family_names[r_fam % N(family_names)].romaji;
	g = u->gender[0] == 'f' ? 0 : (u->gender[0] == 'm' ? 1 : 2);
	if (g == 0)
	{
		u->given = female_names[r_given % N(female_names)].kanji;
		u->given_romaji = female_names[r_given % N(female_names)].romaji;
	}
	else if (g == 1)
	{
		u->given = male_names[r_given % N(male_names)].kanji;
		u->given_romaji = male_names[r_given % N(male_names)].romaji;
	}
	else
	{
		u->given = other_names[r_given % N(other_names)].kanji;
		u->given_romaji = other_names[r_given % N(other_names)].romaji;
	}
}

time_t
shop_user_created(uint64_t seed, const shop_size *size, long id)
{
	/* ids follow sign-up order, spread over the shop's life */
	double		span = (double) (SHOP_END_EPOCH - SHOP_OPEN_EPOCH - 86400);
	time_t		t = SHOP_OPEN_EPOCH +
		(time_t) (span * (double) (id - 1) / (double) size->users);

	return t + (time_t) (shop_rand(seed, STREAM_USER, id, 6) % 3600);
}

const char *
shop_category_slug(int i)
{
	return categories[i % SHOP_CATEGORY_COUNT][0];
}

const char *
shop_category_name(int i)
{
	return categories[i % SHOP_CATEGORY_COUNT][1];
}
