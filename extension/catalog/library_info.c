/*
 * library_info.c
 *	  Run-time versions of libmysqlclient, librdkafka and jansson.  No
 *	  PostgreSQL header may be included here (see library_info.h).
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <mysql.h>

#include "library_info.h"

void
ecsync_library_info(int i, const char **name, const char **version)
{
	switch (i)
	{
		case 0:
			*name = "libmysqlclient";
			*version = mysql_get_client_info();
			break;
		case 1:
			*name = "librdkafka";
			*version = rd_kafka_version_str();
			break;
		default:
			*name = "jansson";
			*version = jansson_version_str();
			break;
	}
}
