# LUAD-HistoSeg as released (training/ patches with "[1 0 0 1]" labels in their names; val/ and
# test/ with img/ + mask/, raw mask 4 = background), read directly by LUADHistoSegDataset.
# PBIP released no LUAD config; the layout is WSSS-Tissue's. Everything else (crop, pipelines,
# loaders, evaluators) is the BCSS-WSSS file's; only the dataset and its folder differ.
# The reference gives no LUAD-HistoSeg statistics: PBIP's BCSS-WSSS ones (a marked choice).
# num_classes = 5: background + TE, NEC, LYM, TAS.
_base_ = ['./bcss-wsss.py']
dataset_type = 'LUADHistoSegDataset'
data_root = 'data/LUAD-HistoSeg'
_data = dict(type=dataset_type, data_root=data_root)
train_dataloader = dict(dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
pseudo_label_dataloader = dict(dataset=_data)
