/* wk_registry: every family's handler table, and type lookup.
 * A new family adds one line here and one fam_<name>.c table. */
#include <string.h>

#include "wk_job.h"

static const wk_family *const families[] = {
    &wk_family_system,
};

const wk_type *wk_type_find(const char *type)
{
    for(size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
        for(int i = 0; i < families[f]->ntypes; i++)
            if(strcmp(families[f]->types[i].name, type) == 0)
                return &families[f]->types[i];
    return NULL;
}
