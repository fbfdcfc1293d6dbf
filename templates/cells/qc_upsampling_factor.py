# imagesumming {{version}} (patch qc-upsampling-factor): use the factor the model was trained with, not int(Mhr/M)
try:
  import os, scipy.io
  upsampling_factor = int(scipy.io.loadmat(os.path.join(QC_model_path, 'model_metadata.mat'))['upsampling_factor'].item())
  print('Upsampling factor ' + str(upsampling_factor) + ': read from model_metadata.mat in ' + QC_model_path)
except (OSError, KeyError, ValueError) as upsampling_factor_error:
  upsampling_factor = {{upsampling_factor}}
  print('Upsampling factor ' + str(upsampling_factor) + ': fixed when the notebook was patched (model_metadata.mat not readable: ' + str(upsampling_factor_error) + ')')
