/* wk_delivery: see wk_delivery.h. */
#include "wk_delivery.h"

#include <stdlib.h>

void wk_delivery_free(wk_delivery *d)
{
    if(!d)
        return;
    free(d->body);
    free(d);
}
