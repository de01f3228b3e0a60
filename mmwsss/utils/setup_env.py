import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmwsss module (and mmseg's) so the registries are filled.

    Args:
        init_default_scope: set the default scope to ``'mmwsss'``.
    """
    import mmseg.utils
    mmseg.utils.register_all_modules(init_default_scope=False)
    import mmwsss.datasets  # noqa: F401
    import mmwsss.engine  # noqa: F401
    import mmwsss.evaluation  # noqa: F401
    import mmwsss.models  # noqa: F401
    import mmwsss.structures  # noqa: F401

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('mmwsss')
        if never_created:
            DefaultScope.get_instance('mmwsss', scope_name='mmwsss')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'mmwsss':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "mmwsss", '
                          '`register_all_modules` will force the current '
                          'default scope to be "mmwsss".')
            new_instance_name = f'mmwsss-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='mmwsss')
