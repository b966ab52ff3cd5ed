"""Thinker pages: prompts, author profiles, content strategies and AI settings.

The routes live on the Thinker module's blueprint, so switching the module off closes them.
Who may change what: prompts and AI settings apply to every site of the account, so only owners
and admins ("settings") change them; editors and above ("write") manage author profiles and
strategies; everyone in the account may read them.
"""

from app.blueprints.modules import module_blueprint, set_module_home

bp = module_blueprint("thinker")

from app.blueprints.thinker import profile_views, prompt_views, settings_views, try_views  # noqa: E402,F401

set_module_home("thinker", "thinker.prompts")
