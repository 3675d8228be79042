/*
 * shopgen.c
 *	  Generates the sample stationery shop's four tables (users, products,
 *	  sales, sales_details) as tab-separated files that both MySQL's LOAD
 *	  DATA and PostgreSQL's COPY read as they are.  Deterministic: the same
 *	  scale and seed give the same bytes.
 *
 *	  shopgen --scale S [--seed N] --out DIR    write DIR/<table>.tsv
 *	  shopgen --scale S --sizes                 print the row counts
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "shop_model.h"

#define STREAM_PRODUCT 2
#define STREAM_SALE 3
#define STREAM_DETAIL 4
#define JST_OFFSET (9 * 3600)

/* ---- a small buffered writer: fprintf is the bottleneck otherwise ---- */

typedef struct out
{
	FILE	   *f;
	char	   *path;
	char	   *tmp;
	char		buf[1 << 20];
	size_t		len;
} out;

static void
fail(const char *what, const char *path)
{
	fprintf(stderr, "shopgen: %s \"%s\": %s\n", what, path, strerror(errno));
	exit(1);
}

static void
out_flush(out *o)
{
	if (o->len > 0 && fwrite(o->buf, 1, o->len, o->f) != o->len)
		fail("could not write", o->tmp);
	o->len = 0;
}

static inline void
out_reserve(out *o, size_t n)
{
	if (o->len + n > sizeof(o->buf))
		out_flush(o);
}

static inline void
put_ch(out *o, char c)
{
	out_reserve(o, 1);
	o->buf[o->len++] = c;
}

static inline void
put_str(out *o, const char *s)
{
	size_t		n = strlen(s);

	out_reserve(o, n);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static inline void
put_u(out *o, unsigned long v)
{
	char		tmp[24];
	int			n = 0;

	do
	{
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v > 0);
	out_reserve(o, n);
	while (n > 0)
		o->buf[o->len++] = tmp[--n];
}

/* put_yen writes an amount in yen as DECIMAL(.,2) text, e.g. 1280.00 */
static inline void
put_yen(out *o, unsigned long yen)
{
	put_u(o, yen);
	put_str(o, ".00");
}

static inline void
put_2(out *o, int v)
{
	out_reserve(o, 2);
	o->buf[o->len++] = (char) ('0' + v / 10);
	o->buf[o->len++] = (char) ('0' + v % 10);
}

/*
 * put_datetime writes epoch seconds as a JST 'YYYY-MM-DD HH:MM:SS', with
 * ".uuuuuu" when usec >= 0.  Civil-from-days after H. Hinnant.
 */
static void
put_datetime(out *o, time_t epoch, long usec)
{
	long		t = (long) epoch + JST_OFFSET;
	long		days = t / 86400,
				secs = t % 86400;
	long		z = days + 719468;
	long		era = z / 146097;
	long		doe = z - era * 146097;
	long		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long		mp = (5 * doy + 2) / 153;
	int			d = (int) (doy - (153 * mp + 2) / 5 + 1);
	int			m = (int) (mp < 10 ? mp + 3 : mp - 9);
	long		y = yoe + era * 400 + (m <= 2);

	put_u(o, (unsigned long) y);
	put_ch(o, '-');
	put_2(o, m);
	put_ch(o, '-');
	put_2(o, d);
	put_ch(o, ' ');
	put_2(o, (int) (secs / 3600));
	put_ch(o, ':');
	put_2(o, (int) (secs / 60 % 60));
	put_ch(o, ':');
	put_2(o, (int) (secs % 60));
	if (usec >= 0)
	{
		char		frac[8];

		snprintf(frac, sizeof(frac), ".%06ld", usec);
		put_str(o, frac);
	}
}

static void
out_open(out *o, const char *dir, const char *table)
{
	size_t		n = strlen(dir) + strlen(table) + 16;

	o->path = malloc(n);
	o->tmp = malloc(n);
	snprintf(o->path, n, "%s/%s.tsv", dir, table);
	snprintf(o->tmp, n, "%s/%s.tsv.tmp", dir, table);
	o->f = fopen(o->tmp, "w");
	if (o->f == NULL)
		fail("could not create", o->tmp);
	o->len = 0;
}

/* out_close makes the file appear only when complete */
static void
out_close(out *o)
{
	out_flush(o);
	if (fclose(o->f) != 0)
		fail("could not write", o->tmp);
	if (rename(o->tmp, o->path) != 0)
		fail("could not rename", o->tmp);
	free(o->path);
	free(o->tmp);
}

/* ---- the catalogue ---- */

static const struct
{
	int			category;
	const char *name;
	int			yen;
}			items[] = {
	{0, "ゲルインクボールペン 0.5mm", 150}, {0, "油性ボールペン 0.7mm", 120},
	{0, "多色ボールペン 4色", 600}, {0, "蛍光ペン", 100}, {0, "サインペン", 110},
	{1, "キャンパスノート A5", 180}, {1, "方眼ノート B5", 250},
	{1, "リングノート A4", 350}, {1, "無地ノート", 200},
	{2, "鉛筆 HB 12本", 700}, {2, "シャープペンシル 0.5mm", 500},
	{2, "シャープ替芯 0.5mm B", 120},
	{3, "プラスチック消しゴム", 100}, {3, "砂消しゴム", 150}, {3, "練り消し", 200},
	{4, "付箋 75mm角", 300}, {4, "フィルム付箋", 350},
	{5, "クリアファイル A4 10枚", 400}, {5, "リングファイル", 600},
	{5, "ドキュメントファイル", 900},
	{6, "はさみ 165mm", 800}, {6, "チタンはさみ", 1200},
	{7, "定規 15cm", 150}, {7, "定規 30cm", 250}, {7, "三角定規セット", 500},
	{8, "便箋", 350}, {8, "封筒 長形3号 20枚", 300}, {8, "ポストカード", 150},
	{9, "2027年 手帳 A6", 1500}, {9, "ウィークリー手帳 B6", 1800},
	{10, "万年筆 細字", 3500}, {10, "万年筆 中字", 5000},
	{10, "ボトルインク 50ml", 1500}, {10, "カートリッジインク", 400},
	{11, "マスキングテープ 15mm", 200}, {11, "セロハンテープ", 150},
	{11, "スティックのり", 180}, {11, "液体のり", 150},
};

static const struct
{
	const char *name;
	int			percent;
}			brands[] = {
	{"さくら文具", 100}, {"青葉製作所", 90}, {"月光堂", 130},
	{"みどり紙工", 95}, {"北斗ペン", 115}, {"桜井ノート", 105},
}, variants[] = {
	{"黒", 100}, {"赤", 100}, {"青", 100}, {"緑", 100}, {"ピンク", 105},
	{"水色", 105}, {"限定色", 130},
};

#define N(a) ((long) (sizeof(a) / sizeof((a)[0])))

typedef struct product
{
	int			item;
	int			brand;
	int			variant;
	unsigned long yen;
} product;

static void
product_get(uint64_t seed, long id, product *p)
{
	p->item = (int) (shop_rand(seed, STREAM_PRODUCT, id, 1) % N(items));
	p->brand = (int) (shop_rand(seed, STREAM_PRODUCT, id, 2) % N(brands));
	p->variant = (int) (shop_rand(seed, STREAM_PRODUCT, id, 3) % N(variants));
	/* rounded to 10 yen, as shops price */
	p->yen = ((unsigned long) items[p->item].yen * brands[p->brand].percent *
			  variants[p->variant].percent / 10000 + 5) / 10 * 10;
}

static time_t
product_created(uint64_t seed, const shop_size *size, long id)
{
	/* the catalogue grows over the first half of the shop's life */
	double		span = (double) (SHOP_END_EPOCH - SHOP_OPEN_EPOCH) / 2;

	return SHOP_OPEN_EPOCH + (time_t) (span * (double) (id - 1) / (double) size->products) +
		(time_t) (shop_rand(seed, STREAM_PRODUCT, id, 4) % 86400);
}

/* later_than returns a time after t (up to max_secs later), not after the end */
static time_t
later_than(time_t t, uint64_t r, long max_secs)
{
	time_t		u = t + (time_t) (r % (uint64_t) (max_secs + 1));

	return u > SHOP_END_EPOCH - 1 ? (t > SHOP_END_EPOCH - 1 ? t : SHOP_END_EPOCH - 1) : u;
}

/* ---- the tables ---- */

static void
gen_users(uint64_t seed, const shop_size *size, const char *dir)
{
	out		   *o = malloc(sizeof(out));

	out_open(o, dir, "users");
	for (long id = 1; id <= size->users; id++)
	{
		shop_user	u;
		time_t		created = shop_user_created(seed, size, id);
		uint64_t	r = shop_rand(seed, 1, id, 20);
		time_t		updated = r % 10 < 3 ? created :
			later_than(created, r >> 8, SHOP_END_EPOCH - created);

		shop_user_get(seed, id, &u);
		put_u(o, id);
		put_ch(o, '\t');
		put_str(o, u.family);
		put_str(o, " ");
		put_str(o, u.given);
		put_ch(o, '\t');
		put_str(o, u.given_romaji);
		put_ch(o, '.');
		put_str(o, u.family_romaji);
		put_ch(o, '.');
		put_u(o, id);
		put_str(o, "@example.jp\t");
		put_u(o, u.age);
		put_ch(o, '\t');
		put_str(o, u.gender);
		put_ch(o, '\t');
		put_str(o, u.occupation);
		put_ch(o, '\t');
		put_datetime(o, created, -1);
		put_ch(o, '\t');
		put_datetime(o, updated, (long) (r >> 40) % 1000000);
		put_ch(o, '\n');
	}
	out_close(o);
	free(o);
}

static void
gen_products(uint64_t seed, const shop_size *size, const char *dir)
{
	out		   *o = malloc(sizeof(out));

	out_open(o, dir, "products");
	for (long id = 1; id <= size->products; id++)
	{
		product		p;
		time_t		created = product_created(seed, size, id);
		uint64_t	r = shop_rand(seed, STREAM_PRODUCT, id, 20);
		time_t		updated = later_than(created, r, 200L * 86400);

		product_get(seed, id, &p);
		put_u(o, id);
		put_ch(o, '\t');
		put_str(o, brands[p.brand].name);
		put_ch(o, ' ');
		put_str(o, items[p.item].name);
		put_ch(o, ' ');
		put_str(o, variants[p.variant].name);
		put_ch(o, '\t');
		put_str(o, shop_category_name(items[p.item].category));
		put_ch(o, '\t');
		put_yen(o, p.yen);
		put_ch(o, '\t');
		put_u(o, (r >> 20) % 10 == 0 ? 0 : (r >> 24) % 500);
		put_ch(o, '\t');
		put_datetime(o, created, -1);
		put_ch(o, '\t');
		put_datetime(o, updated, (long) (r >> 40) % 1000000);
		put_ch(o, '\n');
	}
	out_close(o);
	free(o);
}

static const char *
sale_status(time_t sold_at, uint64_t r)
{
	int			p = (int) (r % 100);

	if (sold_at > SHOP_END_EPOCH - 3 * 86400)
		return p < 30 ? "pending" : (p < 80 ? "paid" : "shipped");
	return p < 90 ? "shipped" : (p < 96 ? "cancelled" : "refunded");
}

/* sales and their lines are made together so that totals agree */
static void
gen_sales(uint64_t seed, const shop_size *size, const char *dir)
{
	out		   *s = malloc(sizeof(out));
	out		   *d = malloc(sizeof(out));
	double		span = (double) (SHOP_END_EPOCH - SHOP_OPEN_EPOCH - 3600);
	double		step = span / (double) size->sales;
	long		detail_id = 1;

	out_open(s, dir, "sales");
	out_open(d, dir, "sales_details");
	for (long id = 1; id <= size->sales; id++)
	{
		uint64_t	r = shop_rand(seed, STREAM_SALE, id, 1);
		time_t		sold_at = SHOP_OPEN_EPOCH + (time_t) (step * (double) (id - 1)) +
			(time_t) (r % (uint64_t) (step > 1 ? step : 1));
		double		frac = (double) (sold_at - SHOP_OPEN_EPOCH) / span;
		long		max_user = (long) (frac * (double) size->users) - 1;
		long		max_product = (long) (frac * 2 * (double) size->products);
		/* pairs of sales have a+(6-a) lines, so lines = 3 x sales exactly */
		int			a = 1 + (int) (shop_rand(seed, STREAM_SALE, (id - 1) / 2, 2) % 5);
		int			lines = id % 2 == 1 ? a : 6 - a;
		const char *status = sale_status(sold_at, r >> 16);
		time_t		updated = status[0] == 'p' && status[1] == 'e' ? sold_at :
			later_than(sold_at, r >> 24, 3L * 86400);
		unsigned long total = 0;

		if (max_user < 1)
			max_user = 1;
		if (max_product < 1)
			max_product = 1;
		if (max_product > size->products)
			max_product = size->products;

		for (int l = 0; l < lines; l++, detail_id++)
		{
			uint64_t	q = shop_rand(seed, STREAM_DETAIL, detail_id, 1);
			long		pid = 1 + (long) (q % (uint64_t) max_product);
			int			qp = (int) ((q >> 32) % 100);
			unsigned long qty = qp < 60 ? 1 : (qp < 85 ? 2 : 3 + (q >> 40) % 8);
			product		p;

			product_get(seed, pid, &p);
			total += qty * p.yen;
			put_u(d, detail_id);
			put_ch(d, '\t');
			put_u(d, id);
			put_ch(d, '\t');
			put_u(d, pid);
			put_ch(d, '\t');
			put_u(d, qty);
			put_ch(d, '\t');
			put_yen(d, p.yen);
			put_ch(d, '\t');
			put_datetime(d, sold_at, (long) (q >> 44) % 1000000);
			put_ch(d, '\n');
		}

		put_u(s, id);
		put_ch(s, '\t');
		put_u(s, 1 + (shop_rand(seed, STREAM_SALE, id, 3) % (uint64_t) max_user));
		put_ch(s, '\t');
		put_datetime(s, sold_at, -1);
		put_ch(s, '\t');
		put_yen(s, total);
		put_ch(s, '\t');
		put_str(s, status);
		put_ch(s, '\t');
		put_datetime(s, updated, (long) (r >> 40) % 1000000);
		put_ch(s, '\n');
	}
	out_close(s);
	out_close(d);
	free(s);
	free(d);
}

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: shopgen --scale S [--seed N] --out DIR\n"
			"       shopgen --scale S --sizes\n"
			"\n"
			"Writes DIR/users.tsv, products.tsv, sales.tsv and sales_details.tsv\n"
			"(LOAD DATA / COPY text format).  Scale 1.0 is 100 k users, 10 k\n"
			"products, 1.5 M sales and 4.5 M sales_details; seed defaults to 1.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"scale", required_argument, NULL, 's'},
		{"seed", required_argument, NULL, 'S'},
		{"out", required_argument, NULL, 'o'},
		{"sizes", no_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	double		scale = -1;
	uint64_t	seed = 1;
	const char *dir = NULL;
	int			sizes_only = 0;
	int			opt;
	shop_size	size;
	struct timespec t0,
				t1;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
	{
		char	   *end;

		switch (opt)
		{
			case 's':
				scale = strtod(optarg, &end);
				if (*end != '\0' || scale <= 0 || scale > 1000)
				{
					fprintf(stderr, "shopgen: --scale must be a number in (0, 1000]\n");
					return 2;
				}
				break;
			case 'S':
				seed = strtoull(optarg, &end, 10);
				if (*end != '\0')
				{
					fprintf(stderr, "shopgen: --seed must be an integer\n");
					return 2;
				}
				break;
			case 'o':
				dir = optarg;
				break;
			case 'z':
				sizes_only = 1;
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (scale < 0 || (dir == NULL && !sizes_only))
	{
		usage(stderr);
		return 2;
	}
	shop_size_for(scale, &size);
	if (sizes_only)
	{
		printf("users %ld\nproducts %ld\nsales %ld\nsales_details %ld\n",
			   size.users, size.products, size.sales, size.sales_details);
		return 0;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		fail("could not create directory", dir);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	gen_users(seed, &size, dir);
	gen_products(seed, &size, dir);
	gen_sales(seed, &size, dir);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "shopgen: %ld users, %ld products, %ld sales, %ld sales_details "
			"in %.1f s\n", size.users, size.products, size.sales,
			size.sales_details,
			(double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
