# imagesumming {{version}} (patch summed-training-data): empty paths load the summed data made in this session
if not ImageData_path and not LocalizationData_path and globals().get('imagesumming_paths'):
  ImageData_path = str(imagesumming_paths['tif'])
  LocalizationData_path = str(imagesumming_paths['csv'])
  print('Using the summed training data: ' + ImageData_path + ' and ' + LocalizationData_path)

