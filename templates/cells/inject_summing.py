#@markdown ##Sum patches of a low-density measurement into dense training frames
# imagesumming {{version}} (patch inject-imagesumming)
#@markdown Movie (tif) and its localizations (Picasso hdf5/csv, ThunderSTORM or Deep-STORM csv), e.g. `/content/gdrive/MyDrive/...`:
summing_movie_path = "" #@param {type:"string"}
summing_localizations_path = "" #@param {type:"string"}
#@markdown Camera pixel size in nm (0: read it from the files) and camera offset in ADU:
summing_pixel_size = 0 #@param {type:"number"}
summing_camera_offset = 100 #@param {type:"number"}
#@markdown Patch size in camera pixels (section 3.2 then uses `patch_size` = this - 1):
summing_patch_size = {{patch_size}} #@param {type:"integer"}
#@markdown Source patches to cut, summed frames to make, and the minimum emitters per source patch:
summing_source_patches = 200 #@param {type:"integer"}
summing_summed_frames = {{summed_frames_default}} #@param {type:"integer"}
summing_min_emitters = 2 #@param {type:"integer"}
#@markdown Patches summed per frame (bin size), or a target density in emitters/µm² (0: use the bin size):
summing_bin_size = 10 #@param {type:"integer"}
summing_target_density = 0 #@param {type:"number"}
summing_seed = 0 #@param {type:"integer"}
#@markdown Output folder (empty: `summed_training_data` next to the movie); overwrite existing files?
summing_output_folder = "" #@param {type:"string"}
summing_overwrite = False #@param {type:"boolean"}

import os
from io import BytesIO  # the notebook's own `io` is skimage.io: leave that name alone
import IPython.display
from imagesumming.summing import sum_patches

if not summing_movie_path or not summing_localizations_path:
  raise ValueError('Give summing_movie_path and summing_localizations_path (files on your Drive) and run this cell again.')
if not summing_output_folder:
  summing_output_folder = os.path.join(os.path.dirname(summing_movie_path), 'summed_training_data')

imagesumming_result = sum_patches(summing_movie_path, summing_localizations_path,
                                  pixel_size=summing_pixel_size or None,
                                  camera_offset=summing_camera_offset,
                                  patch_size=summing_patch_size,
                                  n_patches=summing_source_patches,
                                  n_summed=summing_summed_frames,
                                  bin_size=summing_bin_size,
                                  target_density=summing_target_density or None,
                                  min_emitters=summing_min_emitters,
                                  seed=summing_seed)
imagesumming_paths = imagesumming_result.save(summing_output_folder, name='summed', force=summing_overwrite)
print(imagesumming_result.summary())
imagesumming_png = BytesIO()
imagesumming_result.plot_density().savefig(imagesumming_png, format='png', dpi=100, bbox_inches='tight')
IPython.display.display(IPython.display.Image(data=imagesumming_png.getvalue()))

print('--------------------------------------------------------------------')
print('Summed training data: ' + str(imagesumming_paths['tif']) + ' and ' + str(imagesumming_paths['csv']))
print('Section 3.1 a): leave ImageData_path and LocalizationData_path empty to load them (or paste these paths).')
print('Section 3.2 settings:')
for imagesumming_setting, imagesumming_value in imagesumming_result.notebook_settings.items():
  print('  ' + imagesumming_setting + ' = ' + str(imagesumming_value))
