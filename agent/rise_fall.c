/* agent/rise_fall.c - debounce of one probe's pass/fail results (see rise_fall.h). */
#include "agent/rise_fall.h"

static int64_t rf_at_least_one(int64_t v)
{
	return v < 1 ? 1 : v;
}

void rf_init(struct rise_fall *rf, int64_t rise, int64_t fall)
{
	rf->rise = rf_at_least_one(rise);
	rf->fall = rf_at_least_one(fall);
	rf->count = 0;
	rf->up = false;
	rf->known = false;
}

void rf_set_limits(struct rise_fall *rf, int64_t rise, int64_t fall)
{
	rf->rise = rf_at_least_one(rise);
	rf->fall = rf_at_least_one(fall);
	rf->count = 0;
}

bool rf_feed(struct rise_fall *rf, bool pass)
{
	int64_t need = rf->up ? rf->fall : rf->rise;

	if (!rf->known) {
		/* the first result establishes the state: nothing to debounce against yet */
		rf->known = true;
		rf->count = 0;
		rf->up = pass;
		return pass;
	}
	if (pass == rf->up) {
		/* a result that agrees with the verdict cancels a pending flip */
		rf->count = 0;
		return false;
	}
	rf->count++;
	if (rf->count < need)
		return false;
	rf->up = pass;
	rf->count = 0;
	return true;
}
