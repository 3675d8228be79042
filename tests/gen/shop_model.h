/*
 * shop_model.h
 *	  The deterministic model of the sample stationery shop, shared by the
 *	  table generator (shopgen) and the page-view producer (pvproduce) so
 *	  that both agree on who the users are.
 */
#ifndef SHOP_MODEL_H
#define SHOP_MODEL_H

#include <stdint.h>
#include <time.h>

/* row counts; sales_details is always exactly 3 x sales */
typedef struct shop_size
{
	long		users;
	long		products;
	long		sales;
	long		sales_details;
} shop_size;

typedef struct shop_user
{
	int			age;
	const char *gender;			/* "female", "male", "other" */
	const char *occupation;		/* Japanese, UTF-8 */
	const char *family;			/* kanji */
	const char *given;
	const char *family_romaji;
	const char *given_romaji;
} shop_user;

/* the shop opened 2024-01-01 00:00:00 JST; the data ends 2026-11-28 JST */
#define SHOP_OPEN_EPOCH 1704034800L
#define SHOP_END_EPOCH 1795791600L
#define SHOP_CATEGORY_COUNT 12

/*
 * shop_size_for gives the row counts at a scale: 1.0 is the benchmark shop
 * (100 k users, 10 k products, 1.5 M sales, 4.5 M sales_details).
 */
extern void shop_size_for(double scale, shop_size *size);

/* shop_rand returns a well-mixed 64-bit value for (seed, stream, id, field) */
extern uint64_t shop_rand(uint64_t seed, uint32_t stream, uint64_t id,
						  uint32_t field);

/* shop_user_get fills u with user id's attributes */
extern void shop_user_get(uint64_t seed, long id, shop_user *u);

/* shop_user_created returns when user id signed up (epoch seconds) */
extern time_t shop_user_created(uint64_t seed, const shop_size *size, long id);

/* shop_category_slug and shop_category_name: category i, 0-based */
extern const char *shop_category_slug(int i);
extern const char *shop_category_name(int i);

#endif							/* SHOP_MODEL_H */
